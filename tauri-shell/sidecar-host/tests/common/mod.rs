//! Helpers shared by the process tests: where the real sidecar and the
//! bad-sidecar fixtures are, scratch dirs, pid checks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sidecar_host::SidecarConfig;

/// The repository root (tauri-shell/sidecar-host/../..).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

/// The Python that runs the sidecar from source (`SIDECAR_PYTHON` or the repo's .venv).
pub fn python() -> PathBuf {
    let path =
        std::env::var_os("SIDECAR_PYTHON").map(PathBuf::from).unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "{} is missing: run ./scripts/setup.sh at the repo root (or set SIDECAR_PYTHON)",
        path.display()
    );
    path
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh scratch dir under the system temp dir (removed by [`Scratch`]'s drop).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sidecar-host-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `python -m sidecar --data-dir <scratch>` with test methods on and a fast heartbeat.
pub fn real_sidecar(data: &Scratch, heartbeat_s: f64) -> SidecarConfig {
    SidecarConfig::new(python())
        .args(["-m", "sidecar", "--heartbeat-interval"])
        .arg(heartbeat_s.to_string())
        .arg("--data-dir")
        .arg(data.path())
        .env("SIDECAR_TEST_METHODS", "1")
        .ready_timeout(Duration::from_secs(30))
}

/// The built Nuitka binary, if one exists (`SIDECAR_BINARY`, `SIDECAR_NUITKA_BINARY`
/// as in tests/packaging, or dist/nuitka/sidecar-<triple>).
pub fn nuitka_binary() -> Option<PathBuf> {
    for var in ["SIDECAR_BINARY", "SIDECAR_NUITKA_BINARY"] {
        if let Some(path) = std::env::var_os(var) {
            return Some(PathBuf::from(path));
        }
    }
    let dir = repo_root().join("dist/nuitka");
    let entries = std::fs::read_dir(dir).ok()?;
    entries.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with("sidecar-") && !name.contains('.') && is_executable(p)
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// A bad-sidecar fixture from tests/fixtures/bad_sidecars, run with Python.
pub fn fixture(name: &str) -> SidecarConfig {
    let script = repo_root().join("tests/fixtures/bad_sidecars").join(name);
    assert!(script.exists(), "missing fixture {}", script.display());
    SidecarConfig::new(python()).arg(script)
}

/// A small shell-script sidecar written into `dir` (for stop-step tests).
pub fn shell_sidecar(dir: &Scratch, name: &str, body: &str) -> SidecarConfig {
    let path = dir.path().join(name);
    // Written by a short-lived child, not by this process: tests run on parallel threads, and a
    // fork for another test's spawn while this process held the file open for writing would
    // carry that descriptor until its exec, making our own exec of the script fail with
    // ETXTBSY ("Text file busy"), as it once did in CI.
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"printf '%s\n' "$1" > "$2" && chmod 755 "$2""#)
        .arg("sh")
        .arg(format!("#!/bin/sh\n{body}"))
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success(), "could not write {}", path.display());
    SidecarConfig::new(path)
}

/// Whether a process with this pid exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            // "pid (comm) S ...": the state follows the last ')'.
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
            !matches!(state, Some('Z') | Some('X') | None)
        }
    }
}

/// Wait until `pid` is gone; false after `timeout`.
pub fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

/// Children of `pid` (from /proc/<pid>/task/*/children).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(task.path().join("children")) {
                out.extend(text.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out
}
