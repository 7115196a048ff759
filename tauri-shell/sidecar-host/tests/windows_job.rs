//! Windows only: the job object ends the whole process tree.
//!
//! A PowerShell stand-in plays a onefile bootstrap: it starts a grandchild
//! (`ping -n 120`, the "engine"), prints BOOT and READY, and then neither reads
//! stdin nor exits. Killing through the host must end the grandchild too, which
//! killing the direct child alone would not. Type-checked on Linux by
//! `tauri-shell/scripts/check.sh` (`--target x86_64-pc-windows-gnu`); it runs only
//! on Windows (`cargo test -p sidecar-host --test windows_job`), which this
//! project's CI does not have yet.
#![cfg(windows)]

use std::time::Duration;

use sidecar_host::{LaunchLock, SidecarConfig, SidecarProcess, StopStep, StopTimeouts};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The stand-in bootstrap (see the module docs).
const BOOTSTRAP: &str =
    "Start-Process -NoNewWindow -FilePath ping.exe -ArgumentList '-n','120','127.0.0.1' | Out-Null; \
     [Console]::Out.WriteLine(\"BOOT sidecar=job-test version=0.0.0 protocol=1 pid=$PID\"); \
     [Console]::Out.WriteLine('READY'); [Console]::Out.Flush(); Start-Sleep -Seconds 120";

fn bootstrap() -> SidecarConfig {
    SidecarConfig::new("powershell.exe")
        .args(["-NoProfile", "-NonInteractive", "-Command", BOOTSTRAP])
        .ready_timeout(Duration::from_secs(30))
        .launch_lock(LaunchLock::Off)
        .stop_timeouts(StopTimeouts {
            shutdown_request: Duration::from_millis(500),
            stdin_close: Duration::from_millis(500),
            sigterm: Duration::from_millis(500),
            sigkill: Duration::from_secs(5),
        })
}

/// Wait until the tree is empty; false after `timeout`.
async fn tree_gone(sidecar: &SidecarProcess, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while sidecar.group_alive() {
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_group_ends_the_grandchild_too() -> TestResult {
    let (sidecar, _events) = SidecarProcess::start(bootstrap()).await?;
    assert!(sidecar.group_alive());
    sidecar.kill_group();
    assert!(sidecar.wait_exit(Duration::from_secs(5)).await, "the bootstrap outlived the job's end");
    assert!(tree_gone(&sidecar, Duration::from_secs(5)).await, "a process of the job (the ping) is still alive");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stop_ladder_ends_in_the_job_kill_and_leaves_nothing() -> TestResult {
    let (sidecar, _events) = SidecarProcess::start(bootstrap()).await?;
    let report = sidecar.stop().await;
    assert_eq!(report.step, StopStep::Sigkill, "{report:?}");
    assert!(tree_gone(&sidecar, Duration::from_secs(5)).await, "a process of the job is still alive");
    Ok(())
}
