//! Unix (Linux, macOS): a process group per sidecar, signals.

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
