import { RpcCallError, SidecarProcess } from "sidecar-host";

// node quickstart.js <sidecar binary> [args]: e.g. dist/nuitka/sidecar-x86_64-unknown-linux-gnu
const [command = "sidecar", ...args] = process.argv.slice(2);
const sidecar = await SidecarProcess.start({ command, args, appDataDir: process.env["APP_DATA_DIR"] ?? "/tmp/sidecar-demo" });
sidecar.onNotification("job.progress", (p) => console.log(`job ${p.job_id}: ${Math.round(p.progress * 100)}%`));
try {
  const { rows } = await sidecar.call("db.query", { sql: "SELECT 42 AS answer" });
  console.log(JSON.stringify(rows)); // [[42]]
  await sidecar.call("db.query", { sql: "SELEC 42" });
} catch (err) {
  if (!(err instanceof RpcCallError)) throw err;
  console.log(err.code, err.errorKind); // -32000 sql_syntax
}
const report = await sidecar.stop(); // system.shutdown -> close stdin -> SIGTERM -> SIGKILL of the group
console.log(report.step, report.shutdownReason); // shutdown_request normal
