//! The process model and the supervisor against the real sidecar
//! (`python -m sidecar`, and the Nuitka binary when one is built) and the
//! bad-sidecar fixtures.
//!
//! Unix only (signals, process groups, /proc, shell-script fixtures); the Windows
//! process tree has its own file, `tests/windows_job.rs`.
#![cfg(unix)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use sidecar_host::{
    Error, ExitStatus, HeartbeatPolicy, ProcessEvent, RestartPolicy, SidecarConfig, SidecarProcess, SidecarState,
    StateName, StopStep, StopTimeouts, Supervisor, SupervisorConfig, SupervisorEvent,
};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn quick_stops() -> StopTimeouts {
    StopTimeouts {
        shutdown_request: Duration::from_millis(800),
        stdin_close: Duration::from_millis(800),
        sigterm: Duration::from_millis(800),
        sigkill: Duration::from_secs(2),
    }
}

// ---------------------------------------------------------------- handshake and calls

async fn handshake_and_calls(config: SidecarConfig) -> TestResult {
    let (sidecar, mut events) = SidecarProcess::start(config).await?;
    assert!(sidecar.is_ready());
    let engine_pid = sidecar.engine_pid().expect("BOOT carries pid=");
    assert!(sidecar.version().is_some(), "BOOT carries version=");
    assert!(sidecar.startup_time().unwrap() < Duration::from_secs(30));

    let status = sidecar.call("system.status", None).await?;
    assert_eq!(status["pid"], json!(engine_pid));
    assert_eq!(status["protocol"], json!(1));

    let echoed = sidecar.call("test.echo", Some(json!({"value": {"a": [1, 2, "three"]}}))).await?;
    assert_eq!(echoed, json!({"a": [1, 2, "three"]}));

    // Concurrent calls each get their own answer.
    let calls = (0..20).map(|i| {
        let sidecar = sidecar.clone();
        async move { sidecar.call("test.echo", Some(json!({"value": i}))).await }
    });
    let answers = futures_join_all(calls).await;
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer?, json!(i));
    }

    // Error answers keep code and data.kind.
    match sidecar.call("no.such.method", None).await {
        Err(Error::Rpc { error, .. }) => {
            assert_eq!(error.code, -32601);
            assert_eq!(error.kind(), Some("method_not_found"));
        }
        other => panic!("expected method_not_found, got {other:?}"),
    }
    match sidecar.call("test.sleep", Some(json!({"seconds": "soon"}))).await {
        Err(Error::Rpc { error, .. }) => {
            assert_eq!(error.code, -32602);
            assert_eq!(error.data.as_ref().unwrap()["path"], json!("$.seconds"));
        }
        other => panic!("expected invalid_params, got {other:?}"),
    }

    // A call that outlives its timeout fails with CallTimeout; rpc.cancel frees the sidecar.
    let started = Instant::now();
    match sidecar.call_with_timeout("test.sleep", Some(json!({"seconds": 30})), Duration::from_millis(300)).await {
        Err(Error::CallTimeout { method, .. }) => assert_eq!(method, "test.sleep"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut inflight_empty = false;
    for _ in 0..50 {
        let status = sidecar.call("system.status", None).await?;
        if status["inflight"].as_array().map(|a| a.is_empty()).unwrap_or(false) {
            inflight_empty = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(inflight_empty, "rpc.cancel after a timeout should end the sleeping request");
    assert_eq!(sidecar.pending_calls(), 0);

    // Notifications arrive in order on the bounded channel.
    let count = 50;
    let answer = sidecar.call("test.notify", Some(json!({"count": count}))).await?;
    assert_eq!(answer, json!(count));
    for seq in 0..count {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await? {
            Some(ProcessEvent::Notification { method, params }) => {
                assert_eq!(method, "test.note");
                assert_eq!(params["seq"], json!(seq));
            }
            other => panic!("expected notification {seq}, got {other:?}"),
        }
    }

    let pid = sidecar.pid();
    let report = sidecar.stop().await;
    assert_eq!(report.step, StopStep::ShutdownRequest, "{report:?}");
    assert_eq!(report.status, Some(ExitStatus::Code(0)));
    assert_eq!(report.shutdown_reason.as_deref(), Some("normal"));
    assert!(wait_gone(pid, Duration::from_secs(2)), "pid {pid} still alive after stop");
    assert!(wait_gone(engine_pid, Duration::from_secs(2)), "engine pid {engine_pid} still alive after stop");
    // Terminated comes last.
    match tokio::time::timeout(Duration::from_secs(5), events.recv()).await? {
        Some(ProcessEvent::Terminated { status, shutdown_reason }) => {
            assert_eq!(status, Some(ExitStatus::Code(0)));
            assert_eq!(shutdown_reason.as_deref(), Some("normal"));
        }
        other => panic!("expected Terminated, got {other:?}"),
    }
    assert!(sidecar.violations().is_empty(), "{:?}", sidecar.violations());
    Ok(())
}

/// join_all without the futures crate.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_calls_notifications_and_stop_python() -> TestResult {
    let data = Scratch::new("handshake");
    handshake_and_calls(real_sidecar(&data, 1.0)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_calls_notifications_and_stop_nuitka() -> TestResult {
    let Some(binary) = nuitka_binary() else {
        eprintln!(
            "SKIPPED: no Nuitka binary in dist/nuitka (build it with scripts/build-nuitka.sh, or set SIDECAR_BINARY)"
        );
        return Ok(());
    };
    let data = Scratch::new("nuitka");
    let config = SidecarConfig::new(binary)
        .args(["--heartbeat-interval", "1", "--data-dir"])
        .arg(data.path())
        .env("SIDECAR_TEST_METHODS", "1")
        .ready_timeout(Duration::from_secs(60));
    handshake_and_calls(config).await
}

// ---------------------------------------------------------------- start failures

#[tokio::test]
async fn missing_binary_names_the_path() {
    let path = std::env::temp_dir().join("no-such-dir/sidecar-x86_64-unknown-linux-gnu");
    match SidecarProcess::start(SidecarConfig::new(&path)).await {
        Err(err @ Error::BinaryNotFound { .. }) => {
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains("no such file"), "{text}");
            assert!(!err.is_retryable());
        }
        other => panic!("expected BinaryNotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn exit_before_ready_gives_status_and_stderr_tail() {
    let started = Instant::now();
    match SidecarProcess::start(fixture("exits_before_ready.py")).await {
        Err(err @ Error::ExitedBeforeReady { .. }) => {
            let text = err.to_string();
            if let Error::ExitedBeforeReady { status, stderr_tail, lines_seen } = &err {
                assert_eq!(*status, Some(ExitStatus::Code(7)));
                assert!(stderr_tail.iter().any(|l| l.contains("permission denied")), "{stderr_tail:?}");
                assert!(lines_seen.iter().any(|l| l.starts_with("BOOT")), "{lines_seen:?}");
            }
            assert!(text.contains("exit status 7") && text.contains("permission denied"), "{text}");
        }
        other => panic!("expected ExitedBeforeReady, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn ready_timeout_lists_the_lines_seen_and_kills_the_process() {
    let config = fixture("garbage_no_ready.py").ready_timeout(Duration::from_millis(1500));
    let (sidecar, _events) = SidecarProcess::spawn(config).await.unwrap();
    let pid = sidecar.pid();
    let started = Instant::now();
    match sidecar.wait_ready().await {
        Err(err @ Error::ReadyTimeout { .. }) => {
            let text = err.to_string();
            assert!(text.contains("Hello from a stray debug print"), "{text}");
            assert!(text.contains("1.5s"), "{text}");
        }
        other => panic!("expected ReadyTimeout, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(wait_gone(pid, Duration::from_secs(2)), "pid {pid} alive after a READY timeout");
    assert!(!sidecar.group_alive());
}

#[tokio::test]
async fn crash_after_ready_fails_the_pending_call_with_the_status() -> TestResult {
    let (sidecar, _events) = SidecarProcess::start(fixture("crash_after_ready.py")).await?;
    match sidecar.call("system.ping", None).await {
        Err(err @ Error::SidecarExited { .. }) => {
            let text = err.to_string();
            assert!(text.contains("exit status 3"), "{text}");
            assert!(text.contains("segfault simulated"), "{text}");
        }
        other => panic!("expected SidecarExited, got {other:?}"),
    }
    // Later calls fail at once.
    assert!(matches!(sidecar.call("system.ping", None).await, Err(Error::SidecarExited { .. })));
    Ok(())
}

#[tokio::test]
async fn duplicate_ready_is_a_violation_not_a_failure() -> TestResult {
    let (sidecar, _events) = SidecarProcess::start(fixture("ready_twice.py")).await?;
    sidecar.call("system.ping", None).await?;
    assert!(sidecar.violations().iter().any(|v| format!("{:?}", v.kind) == "DuplicateReady"));
    let report = sidecar.stop().await;
    assert_eq!(report.step, StopStep::ShutdownRequest);
    Ok(())
}

// ---------------------------------------------------------------- the stop sequence

#[tokio::test]
async fn stop_escalates_to_stdin_close() -> TestResult {
    // Never answers system.shutdown, exits at stdin EOF.
    let dir = Scratch::new("stdin");
    let config = shell_sidecar(
        &dir,
        "eof.sh",
        "echo BOOT sidecar=sh version=0 protocol=1 pid=$$\necho READY\ncat >/dev/null\necho SHUTDOWN reason=normal",
    )
    .stop_timeouts(quick_stops());
    let (sidecar, _events) = SidecarProcess::start(config).await?;
    let report = sidecar.stop().await;
    assert_eq!(report.step, StopStep::StdinClose, "{report:?}");
    assert_eq!(report.status, Some(ExitStatus::Code(0)));
    assert_eq!(report.shutdown_reason.as_deref(), Some("normal"));
    Ok(())
}

#[tokio::test]
async fn stop_escalates_to_sigterm() -> TestResult {
    // Ignores stdin entirely (keeps it open), exits on SIGTERM.
    let dir = Scratch::new("term");
    let body = "trap 'echo SHUTDOWN reason=signal; exit 0' TERM\necho BOOT sidecar=sh version=0 protocol=1 pid=$$\necho READY\nwhile :; do sleep 0.05; done";
    let config = shell_sidecar(&dir, "term.sh", body).stop_timeouts(quick_stops());
    let (sidecar, _events) = SidecarProcess::start(config).await?;
    let report = sidecar.stop().await;
    assert_eq!(report.step, StopStep::Sigterm, "{report:?}");
    assert_eq!(report.shutdown_reason.as_deref(), Some("signal"));
    Ok(())
}

#[tokio::test]
async fn stop_escalates_to_sigkill_of_the_whole_group() -> TestResult {
    // hang_after_ready ignores stdin, SIGTERM and SIGINT; a grandchild shares its group.
    let dir = Scratch::new("kill");
    let fixture_path = repo_root().join("tests/fixtures/bad_sidecars/hang_after_ready.py");
    let body = format!(
        "sleep 1000 &\necho $! > {}/grandchild.pid\nexec {} {}",
        dir.path().display(),
        python().display(),
        fixture_path.display()
    );
    let config = shell_sidecar(&dir, "hang.sh", &body).stop_timeouts(quick_stops());
    let (sidecar, _events) = SidecarProcess::start(config).await?;
    let grandchild: u32 = std::fs::read_to_string(dir.path().join("grandchild.pid"))?.trim().parse()?;
    assert!(alive(grandchild));
    let pid = sidecar.pid();
    let started = Instant::now();
    let report = sidecar.stop().await;
    assert_eq!(report.step, StopStep::Sigkill, "{report:?}");
    assert_eq!(report.status, Some(ExitStatus::Signal(9)));
    // shutdown_request (answer + exit) + stdin_close + sigterm, then the kill.
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
    assert!(wait_gone(pid, Duration::from_secs(2)), "pid {pid} survived");
    assert!(wait_gone(grandchild, Duration::from_secs(2)), "grandchild {grandchild} survived the group kill");
    Ok(())
}

#[tokio::test]
async fn a_grandchild_left_after_a_clean_exit_is_swept() -> TestResult {
    // The leader exits on system.shutdown-less EOF but leaves a child in its group
    // (what an orphaned onefile engine would look like).
    let dir = Scratch::new("sweep");
    let body = format!(
        "sleep 1000 </dev/null >/dev/null 2>&1 &\necho $! > {}/grandchild.pid\necho BOOT sidecar=sh version=0 protocol=1 pid=$$\necho READY\ncat >/dev/null",
        dir.path().display()
    );
    let config = shell_sidecar(&dir, "leave.sh", &body).stop_timeouts(quick_stops());
    let (sidecar, _events) = SidecarProcess::start(config).await?;
    let grandchild: u32 = std::fs::read_to_string(dir.path().join("grandchild.pid"))?.trim().parse()?;
    let report = sidecar.stop().await;
    assert_eq!(report.step, StopStep::StdinClose, "{report:?}");
    assert!(wait_gone(grandchild, Duration::from_secs(2)), "grandchild {grandchild} was left running");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_start_stop_cycles_leave_no_process() -> TestResult {
    let data = Scratch::new("cycles");
    let mut pids = Vec::new();
    for cycle in 0..6 {
        let (sidecar, _events) = SidecarProcess::start(real_sidecar(&data, 5.0)).await?;
        let pong = sidecar.call("system.ping", None).await?;
        assert_eq!(pong["pong"], json!(true), "cycle {cycle}");
        let pid = sidecar.pid();
        let engine = sidecar.engine_pid().unwrap();
        let report = sidecar.stop().await;
        assert_eq!(report.step, StopStep::ShutdownRequest, "cycle {cycle}: {report:?}");
        assert_eq!(report.status, Some(ExitStatus::Code(0)), "cycle {cycle}");
        assert!(!alive(pid), "cycle {cycle}: pid {pid} alive right after stop returned");
        assert!(wait_gone(engine, Duration::from_secs(1)), "cycle {cycle}: engine {engine} alive");
        assert!(!sidecar.group_alive(), "cycle {cycle}: the process group outlived stop");
        pids.push(pid);
    }
    assert!(pids.iter().all(|p| !alive(*p)), "{pids:?}");
    Ok(())
}

// ---------------------------------------------------------------- the supervisor

async fn wait_state(
    supervisor: &Supervisor,
    timeout: Duration,
    want: impl Fn(&SidecarState) -> bool,
) -> Result<SidecarState, String> {
    let mut states = supervisor.subscribe_state();
    let result = tokio::time::timeout(timeout, states.wait_for(|s| want(s))).await;
    match result {
        Ok(Ok(state)) => Ok(state.clone()),
        _ => Err(format!("state not reached within {timeout:?}; now {:?}", supervisor.state())),
    }
}

fn drain(mut events: tokio::sync::mpsc::Receiver<SupervisorEvent>) -> tokio::task::JoinHandle<Vec<SupervisorEvent>> {
    tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Some(event) = events.recv().await {
            seen.push(event);
        }
        seen
    })
}

fn fast_restarts() -> RestartPolicy {
    RestartPolicy {
        max_restarts: 3,
        window: Duration::from_secs(60),
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_restarts_after_the_sidecar_is_killed() -> TestResult {
    let data = Scratch::new("sup-kill");
    let config = SupervisorConfig::new(real_sidecar(&data, 5.0)).restart(fast_restarts());
    let (supervisor, events) = Supervisor::start(config);
    let seen = drain(events);
    supervisor.wait_ready(Duration::from_secs(30)).await?;
    let first = supervisor.process().unwrap();
    let old_pid = first.pid();
    supervisor.call("system.ping", None).await?;

    // SAFETY: killing the child we spawned.
    unsafe { libc::kill(old_pid as i32, libc::SIGKILL) };
    let restarting = wait_state(&supervisor, Duration::from_secs(10), |s| s.name() == StateName::Restarting).await?;
    if let SidecarState::Restarting { reason, attempt, .. } = &restarting {
        assert!(reason.contains("killed by signal 9"), "{reason}");
        assert_eq!(*attempt, 1);
    }
    let ready = wait_state(&supervisor, Duration::from_secs(30), |s| s.name() == StateName::Ready).await?;
    let SidecarState::Ready { pid: new_pid, .. } = ready else { unreachable!() };
    assert_ne!(new_pid, old_pid);
    assert!(!alive(old_pid));
    supervisor.call("system.ping", None).await?;
    assert_eq!(supervisor.status().restarts, 1);

    let report = supervisor.stop().await.expect("a process was running");
    assert_eq!(report.step, StopStep::ShutdownRequest);
    assert!(wait_gone(new_pid, Duration::from_secs(2)));
    assert_eq!(supervisor.state().name(), StateName::Stopped);
    // Calls after stop fail clearly.
    assert!(matches!(supervisor.call("system.ping", None).await, Err(Error::NotRunning { .. })));
    drop(supervisor);
    let names: Vec<StateName> = seen
        .await?
        .into_iter()
        .filter_map(|e| match e {
            SupervisorEvent::State(s) => Some(s.name()),
            _ => None,
        })
        .collect();
    assert_eq!(
        names,
        [
            StateName::Starting,
            StateName::Ready,
            StateName::Restarting,
            StateName::Starting,
            StateName::Ready,
            StateName::Stopping,
            StateName::Stopped
        ]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_declares_a_silent_sidecar_hung_and_restarts_it() -> TestResult {
    let data = Scratch::new("sup-hung");
    let heartbeat = HeartbeatPolicy { interval: Duration::from_millis(500), missed: 3 };
    let sidecar = real_sidecar(&data, 0.5).stop_timeouts(quick_stops());
    let config = SupervisorConfig::new(sidecar).restart(fast_restarts()).heartbeat(heartbeat);
    let (supervisor, events) = Supervisor::start(config);
    let _seen = drain(events);
    supervisor.wait_ready(Duration::from_secs(30)).await?;
    let old_pid = supervisor.process().unwrap().pid();
    // Heartbeats flow while it is healthy: no restart for a few intervals.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(supervisor.state().name(), StateName::Ready);
    assert!(supervisor.status().last_heartbeat_seq.unwrap_or(0) >= 2, "{:?}", supervisor.status());

    // Block the sidecar's event loop: heartbeats stop.
    let blocker = supervisor.clone();
    tokio::spawn(async move {
        let _ = blocker.call_with_timeout("test.block", Some(json!({"seconds": 60})), Duration::from_secs(60)).await;
    });
    let restarting = wait_state(&supervisor, Duration::from_secs(10), |s| s.name() == StateName::Restarting).await?;
    if let SidecarState::Restarting { reason, .. } = &restarting {
        assert!(reason.contains("hung"), "{reason}");
    }
    let ready = wait_state(&supervisor, Duration::from_secs(30), |s| s.name() == StateName::Ready).await?;
    let SidecarState::Ready { pid: new_pid, .. } = ready else { unreachable!() };
    assert_ne!(new_pid, old_pid);
    assert!(wait_gone(old_pid, Duration::from_secs(3)), "the hung sidecar {old_pid} is still alive");
    supervisor.call("system.ping", None).await?;
    supervisor.stop().await;
    assert!(wait_gone(new_pid, Duration::from_secs(2)));
    Ok(())
}

#[tokio::test]
async fn supervisor_gives_up_after_the_restart_budget() -> TestResult {
    let config = SupervisorConfig::new(fixture("exits_before_ready.py")).restart(fast_restarts());
    let (supervisor, events) = Supervisor::start(config);
    let _seen = drain(events);
    let failed = wait_state(&supervisor, Duration::from_secs(30), |s| s.name() == StateName::Failed).await?;
    let SidecarState::Failed { kind, error } = failed else { unreachable!() };
    assert_eq!(kind, "restart_limit");
    assert!(
        error.contains("3 restarts") && error.contains("exit status 7") && error.contains("permission denied"),
        "{error}"
    );
    assert_eq!(supervisor.status().restarts, 3);
    assert!(matches!(supervisor.wait_ready(Duration::from_secs(1)).await, Err(Error::NotRunning { .. })));
    supervisor.stop().await;
    assert_eq!(supervisor.state().name(), StateName::Stopped);
    Ok(())
}

#[tokio::test]
async fn supervisor_fails_at_once_for_a_missing_binary() -> TestResult {
    let path = std::env::temp_dir().join("nowhere/sidecar");
    let (supervisor, events) = Supervisor::start(SupervisorConfig::new(SidecarConfig::new(&path)));
    let _seen = drain(events);
    let failed = wait_state(&supervisor, Duration::from_secs(5), |s| s.name() == StateName::Failed).await?;
    let SidecarState::Failed { kind, error } = failed else { unreachable!() };
    assert_eq!(kind, "binary_not_found");
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert_eq!(supervisor.status().restarts, 0);
    supervisor.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_restart_on_request_and_notifications() -> TestResult {
    let data = Scratch::new("sup-restart");
    let (supervisor, mut events) = Supervisor::start(SupervisorConfig::new(real_sidecar(&data, 5.0)));
    supervisor.wait_ready(Duration::from_secs(30)).await?;
    let old_pid = supervisor.process().unwrap().pid();

    supervisor.call("test.notify", Some(json!({"count": 3}))).await?;
    let mut notes = Vec::new();
    while notes.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(5), events.recv()).await? {
            Some(SupervisorEvent::Notification { method, params }) => notes.push((method, params["seq"].clone())),
            Some(_) => {}
            None => panic!("events closed"),
        }
    }
    assert_eq!(
        notes,
        [("test.note".to_owned(), json!(0)), ("test.note".to_owned(), json!(1)), ("test.note".to_owned(), json!(2))]
    );

    let drained = drain(events);
    supervisor.restart().await?;
    assert!(!alive(old_pid), "the old sidecar must be gone when restart() returns");
    supervisor.wait_ready(Duration::from_secs(30)).await?;
    let new_pid = supervisor.process().unwrap().pid();
    assert_ne!(new_pid, old_pid);
    assert_eq!(supervisor.status().restarts, 0, "a requested restart does not spend the budget");
    supervisor.call("system.ping", None).await?;
    supervisor.stop().await;
    supervisor.stop().await; // twice is harmless
    assert!(wait_gone(new_pid, Duration::from_secs(2)));
    drop(supervisor);
    drained.await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_goes_to_the_log_file_and_live_viewers() -> TestResult {
    let data = Scratch::new("log");
    let log_path = data.path().join("logs/host.log");
    let log = sidecar_host::HostLog::new(Some(&log_path))?;
    let mut live = log.subscribe();
    let (sidecar, _events) = SidecarProcess::start(real_sidecar(&data, 5.0).log(log)).await?;
    sidecar.call("test.print", Some(json!({"text": "printed-to-stderr-marker"}))).await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen_live = false;
    while Instant::now() < deadline && !seen_live {
        if let Ok(Ok(line)) = tokio::time::timeout(Duration::from_millis(200), live.recv()).await {
            seen_live |= line.line.contains("printed-to-stderr-marker");
        }
    }
    assert!(seen_live, "stderr line not delivered live");
    sidecar.stop().await;
    let text = std::fs::read_to_string(&log_path)?;
    assert!(text.contains("printed-to-stderr-marker"), "not in the log file");
    assert!(text.contains("stop: system.shutdown"), "stop steps are logged");
    assert!(sidecar.stderr_tail(200).iter().any(|l| l.contains("printed-to-stderr-marker")));
    Ok(())
}
