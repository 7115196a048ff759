//! Platform code, one module per OS behind the same crate-private functions:
//!
//! * the process tree of one sidecar ([`ProcessTree`]): on Unix its own process
//!   group, on Windows a job object with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`, so
//!   killing it ends a onefile bootstrap *and* the engine it started;
//! * the launch lock's file ([`launch_lock_path`], [`open_lock_file`], [`try_lock`],
//!   [`unlock`]): `flock` on Unix, `LockFileEx` on Windows (see `process/launch_lock.rs`).
//!
//! macOS is Unix here. `tauri-shell/scripts/check.sh` type-checks both modules for
//! `x86_64-pc-windows-gnu` and `aarch64-apple-darwin`; only the Unix one runs in CI.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("sidecar-host supports Unix (Linux, macOS) and Windows");
