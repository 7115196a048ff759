//! The host key against the real sidecar (`python -m sidecar`): each spawn gets a
//! fresh one in its environment, and whatever the sidecar prints or answers has it
//! masked before the host passes it on (results, errors, stderr lines, the log).
//!
//! Unix only: the key is read back from `/proc/<pid>/environ`, the one place outside
//! the host where it exists.
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use sidecar_host::{
    Error, GrantKind, GrantMode, HostLog, SidecarProcess, SidecarState, StateName, Supervisor, SupervisorConfig,
    HOST_KEY_BYTES, HOST_KEY_ENV, HOST_KEY_MASK,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The host key in a running process's environment.
fn key_of(pid: u32) -> String {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    let prefix = format!("{HOST_KEY_ENV}=");
    environ
        .split(|b| *b == 0)
        .filter_map(|entry| std::str::from_utf8(entry).ok())
        .find_map(|entry| entry.strip_prefix(prefix.as_str()).map(str::to_owned))
        .unwrap_or_else(|| panic!("{HOST_KEY_ENV} is not in the environment of pid {pid}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_spawn_gets_a_fresh_key_that_the_host_never_passes_on() -> TestResult {
    let data = Scratch::new("host-key");
    let log_path = data.path().join("logs/host.log");
    // A planted value in the config must not win over the fresh key.
    let config = real_sidecar(&data, 0.0).env(HOST_KEY_ENV, "planted").log(HostLog::new(Some(&log_path))?);
    let (sidecar, _events) = SidecarProcess::start(config.clone()).await?;
    let key = key_of(sidecar.engine_pid().unwrap_or(sidecar.pid()));
    assert_eq!(key.len(), 2 * HOST_KEY_BYTES);
    assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");

    // A result that carries the key comes back masked.
    let echoed = sidecar.call("test.echo", Some(json!({ "value": format!("before {key} after") }))).await?;
    assert_eq!(echoed, json!(format!("before {HOST_KEY_MASK} after")));
    // So does an error message that quotes it (DuckDB names the unknown column).
    let err = sidecar.call("db.query", Some(json!({ "sql": format!("SELECT \"{key}\"") }))).await.unwrap_err();
    let Error::Rpc { error, .. } = &err else { panic!("expected an rpc error, got {err:?}") };
    assert!(!error.message.contains(&key) && !err.to_string().contains(&key), "{err}");
    assert!(error.message.contains(HOST_KEY_MASK), "{}", error.message);
    // And a line the sidecar prints to stderr.
    sidecar.call("test.print", Some(json!({ "text": format!("stray {key}") }))).await?;
    let masked = format!("stray {HOST_KEY_MASK}");
    wait_for(Duration::from_secs(5), || sidecar.stderr_tail(50).iter().any(|l| l.contains(&masked))).await;
    assert!(sidecar.stderr_tail(200).iter().all(|l| !l.contains(&key)));
    sidecar.stop().await;

    // The next process has another key.
    let (second, _events) = SidecarProcess::start(config).await?;
    let next = key_of(second.engine_pid().unwrap_or(second.pid()));
    assert_ne!(next, key);
    assert_ne!(next, "planted");
    second.stop().await;

    let log = std::fs::read_to_string(&log_path)?;
    assert!(log.contains(&masked), "the stray line should be in the host log, masked");
    assert!(!log.contains(&key) && !log.contains(&next), "a host key reached the host log");
    Ok(())
}

/// The `data.kind` of a JSON-RPC error.
fn rpc_kind(err: &Error) -> String {
    match err {
        Error::Rpc { error, .. } => error.kind().unwrap_or("none").to_owned(),
        other => format!("not an rpc error: {other}"),
    }
}

/// Ingest `source` into `table`: the job's final record, or the refusal at submit.
async fn ingest(sidecar: &SidecarProcess, table: &str, source: &std::path::Path) -> Result<serde_json::Value, Error> {
    let payload = json!({ "table": table, "source": source });
    let job = sidecar.call("jobs.submit", Some(json!({ "type": "ingest", "payload": payload }))).await?;
    let id = job["job_id"].clone();
    for _ in 0..300 {
        let record = sidecar.call("jobs.get", Some(json!({ "job_id": id }))).await?;
        if ["succeeded", "failed", "canceled"].contains(&record["status"].as_str().unwrap_or("")) {
            return Ok(record);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the ingest of {} did not end", source.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_only_calls_carry_the_key_and_nothing_else_gets_through() -> TestResult {
    let data = Scratch::new("host-only");
    let outside = Scratch::new("host-only-outside");
    let csv = outside.path().join("sales.csv");
    std::fs::write(&csv, "region,amount\nnorth,1\nsouth,2\n")?;
    let (sidecar, _events) = SidecarProcess::start(real_sidecar(&data, 0.0)).await?;

    // Without the key, or with a wrong one, the sidecar refuses (what a forwarded webview call would get).
    let wrong = json!({ "path": csv, "mode": "read", "host_key": "f".repeat(64) });
    assert_eq!(rpc_kind(&sidecar.call("files.grant", Some(wrong)).await.unwrap_err()), "host_only");
    let missing = sidecar.call("files.grant", Some(json!({ "path": csv, "mode": "read" }))).await.unwrap_err();
    assert_eq!(rpc_kind(&missing), "invalid_params");
    // Not granted yet: the engine refuses to read the file (at submit).
    let before = ingest(&sidecar, "sales", &csv).await.unwrap_err();
    assert_eq!(rpc_kind(&before), "forbidden_path");

    // Through the host: granted, ingested, revoked.
    let grant = sidecar.grant_path(&csv, GrantMode::Read).await?;
    assert_eq!((grant.mode, grant.kind), (GrantMode::Read, GrantKind::File));
    assert_eq!(grant.path, csv.canonicalize()?);
    let done = ingest(&sidecar, "sales", &csv).await?;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["result"]["rows"], 2);
    assert!(sidecar.revoke_grant(&grant.grant_id).await?);
    assert!(!sidecar.revoke_grant(&grant.grant_id).await?, "a second revoke finds nothing");
    let after = ingest(&sidecar, "sales", &csv).await.unwrap_err();
    assert_eq!(rpc_kind(&after), "forbidden_path");

    // Positional params cannot carry the key: refused before anything is sent.
    let err = sidecar.call_host("files.grants", Some(json!([1]))).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_host_call");
    sidecar.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supervisor_makes_its_grants_again_after_a_restart() -> TestResult {
    let data = Scratch::new("grant-replay");
    let outside = Scratch::new("grant-replay-outside");
    let (supervisor, _events) = Supervisor::start(SupervisorConfig::new(real_sidecar(&data, 5.0)));
    supervisor.wait_ready(Duration::from_secs(30)).await?;
    let first = supervisor.grant_path(outside.path(), GrantMode::Write).await?;
    assert_eq!(first.kind, GrantKind::Folder);
    let export = |name: &str| json!({ "sql": "SELECT 1 AS one", "format": "csv", "path": outside.path().join(name) });
    supervisor.call("db.export", Some(export("before.csv"))).await?;

    let old_pid = supervisor.process().expect("a process").pid();
    // SAFETY: killing the child we spawned.
    unsafe { libc::kill(old_pid as i32, libc::SIGKILL) };
    let mut states = supervisor.subscribe_state();
    tokio::time::timeout(
        Duration::from_secs(30),
        states.wait_for(|s| matches!(s, SidecarState::Ready { pid, .. } if *pid != old_pid)),
    )
    .await??;
    // Ready is announced only after the grants were made again: the first call finds it.
    supervisor.call("db.export", Some(export("after.csv"))).await?;
    assert_eq!(std::fs::read_to_string(outside.path().join("after.csv"))?.trim(), "one\n1");
    let grants = supervisor.grants();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].path, first.path);
    let listed = supervisor.call("files.grants", None).await?;
    assert_eq!(listed["grants"][0]["grant_id"].as_str(), Some(grants[0].grant_id.as_str()));

    // A revoked grant is not made again.
    assert!(supervisor.revoke_grant(&grants[0].grant_id).await?);
    assert!(supervisor.grants().is_empty());
    let refused = supervisor.call("db.export", Some(export("revoked.csv"))).await.unwrap_err();
    assert_eq!(rpc_kind(&refused), "forbidden_path");
    supervisor.stop().await;
    assert_eq!(supervisor.state().name(), StateName::Stopped);
    Ok(())
}

async fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
