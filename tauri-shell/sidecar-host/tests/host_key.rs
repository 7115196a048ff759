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
use sidecar_host::{Error, HostLog, SidecarProcess, HOST_KEY_BYTES, HOST_KEY_ENV, HOST_KEY_MASK};

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

async fn wait_for(timeout: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
