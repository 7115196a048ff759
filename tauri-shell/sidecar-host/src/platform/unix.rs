//! Unix (Linux, macOS): a process group per sidecar, signals, `flock` for the launch lock.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use tokio::process::{Child, Command};

/// Put the child in a new process group of its own (its pid is the group id), so
/// the last stop step reaches a onefile bootstrap's child too.
pub(crate) fn prepare(command: &mut Command) {
    command.process_group(0);
}

/// The process group of one spawned sidecar.
#[derive(Debug)]
pub(crate) struct ProcessTree {
    /// The group id (the child's pid); 0 if the OS did not say.
    pgid: libc::pid_t,
}

impl ProcessTree {
    /// The tree of a child spawned after [`prepare`]; never has anything to report.
    pub(crate) fn attach(child: &Child) -> (ProcessTree, Option<String>) {
        (ProcessTree { pgid: child.id().unwrap_or(0) as libc::pid_t }, None)
    }

    /// SIGKILL the whole group, the leader gone or not. Returns true: the group was
    /// signalled (the caller need not kill the direct child separately).
    pub(crate) fn kill(&self) -> bool {
        if self.pgid > 0 {
            // SAFETY: the group id is the pid of a child we spawned with process_group(0);
            // the kernel does not reuse a pid as a new pgid while the old group has members.
            unsafe {
                libc::killpg(self.pgid, libc::SIGKILL);
            }
        }
        true
    }

    /// Whether any process of the group is alive (`Some`: Unix always knows).
    pub(crate) fn alive(&self) -> Option<bool> {
        // SAFETY: signal 0 only checks for existence.
        Some(self.pgid > 0 && unsafe { libc::killpg(self.pgid, 0) } == 0)
    }

    /// The SIGTERM stop step: SIGTERM to the leader (a onefile bootstrap forwards it).
    pub(crate) fn terminate(&self) {
        signal(self.pgid as u32, libc::SIGTERM);
    }
}

/// Send `signal` to the process `pid` (nothing for pid 0).
pub(crate) fn signal(pid: u32, signal: i32) {
    if pid > 0 {
        // SAFETY: kill(2) with a pid we spawned; the caller checks it has not been reaped.
        unsafe {
            libc::kill(pid as libc::pid_t, signal);
        }
    }
}

/// `/tmp/sidecar-launch-<uid>-<app>.lock`: `/tmp`, not `$TMPDIR`, so that hosts started
/// from different environments agree; the uid keeps users (and their caches) apart.
pub(crate) fn launch_lock_path(app: &str) -> PathBuf {
    // SAFETY: getuid(2) cannot fail.
    let uid = unsafe { libc::getuid() };
    PathBuf::from("/tmp").join(format!("sidecar-launch-{uid}-{app}.lock"))
}

/// Open (creating, mode 0600) the lock file: close-on-exec, so no child inherits it
/// (a child holding a copy would hold the lock for its whole life); not through a
/// symlink and only if it is ours (another user can plant files in a shared `/tmp`).
pub(crate) fn open_lock_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    // SAFETY: getuid(2) cannot fail.
    if file.metadata()?.uid() != unsafe { libc::getuid() } {
        return Err(io::Error::new(io::ErrorKind::PermissionDenied, "owned by another user"));
    }
    Ok(file)
}

/// Try to take the exclusive `flock` once: `Ok(false)` when another open file holds it.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    // SAFETY: flock(2) on an fd we own for the duration of the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(code) if code == libc::EWOULDBLOCK || code == libc::EINTR => Ok(false),
        _ => Err(err),
    }
}

/// Drop the lock (closing the file would too).
pub(crate) fn unlock(file: &File) {
    // SAFETY: flock(2) on an fd we own.
    unsafe {
        libc::flock(file.as_raw_fd(), libc::LOCK_UN);
    }
}
