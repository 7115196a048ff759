//! Windows: a job object per sidecar, `LockFileEx` for the launch lock.
//!
//! A onefile bootstrap starts the engine as its own child; killing the bootstrap
//! alone leaves the engine running (and holding the data dir). So the sidecar is
//! created suspended, put in a new job object with
//! `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`, and only then resumed: everything it starts
//! is in the job from its first instruction. The host keeps the job handle for the
//! child's lifetime; [`ProcessTree::kill`] ends the whole job, and closing the handle
//! (the handle dropped, or the host process dying in any way) ends what is left.
//! The handle is not inheritable (no security attributes), so the child cannot keep
//! its own job alive.
//!
//! If the job cannot be made (a very old Windows, or a parent job that forbids
//! nesting), the process is still resumed and only the direct child can be killed;
//! the host log says so.

use std::ffi::c_void;
use std::fs::{File, OpenOptions};
use std::io;
use std::mem::size_of;
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};

use tokio::process::{Child, Command};
use windows_sys::Win32::Foundation::{CloseHandle, ERROR_LOCK_VIOLATION, HANDLE, INVALID_HANDLE_VALUE};
use windows_sys::Win32::Storage::FileSystem::{
    LockFileEx, UnlockFileEx, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, Thread32First, Thread32Next, TH32CS_SNAPTHREAD, THREADENTRY32,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectBasicAccountingInformation, JobObjectExtendedLimitInformation,
    QueryInformationJobObject, SetInformationJobObject, TerminateJobObject, JOBOBJECT_BASIC_ACCOUNTING_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{OpenThread, ResumeThread, CREATE_SUSPENDED, THREAD_SUSPEND_RESUME};
use windows_sys::Win32::System::IO::OVERLAPPED;

/// The exit code of processes ended by [`ProcessTree::kill`] (as `TerminateProcess` callers use).
const KILLED_EXIT_CODE: u32 = 1;

/// Create the child suspended: [`ProcessTree::attach`] puts it in its job, then resumes it.
pub(crate) fn prepare(command: &mut Command) {
    command.creation_flags(CREATE_SUSPENDED);
}

/// An owned kernel handle, closed on drop.
#[derive(Debug)]
struct OwnedHandle(HANDLE);

// SAFETY: a job (or snapshot) handle may be used and closed from any thread.
unsafe impl Send for OwnedHandle {}
// SAFETY: the calls made through a shared reference (TerminateJobObject,
// QueryInformationJobObject) are thread-safe.
unsafe impl Sync for OwnedHandle {}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        // SAFETY: we own the handle and close it once. For a job with
        // KILL_ON_JOB_CLOSE this ends every process still in it.
        unsafe {
            CloseHandle(self.0);
        }
    }
}

/// The job object of one spawned sidecar (`None`: none could be made).
#[derive(Debug)]
pub(crate) struct ProcessTree {
    job: Option<OwnedHandle>,
}

impl ProcessTree {
    /// Put a child spawned after [`prepare`] in a new kill-on-close job and resume it.
    /// Returns a note for the host log when something did not work.
    pub(crate) fn attach(child: &Child) -> (ProcessTree, Option<String>) {
        let pid = child.id().unwrap_or(0);
        let job = match child.raw_handle() {
            Some(process) => job_for(process as HANDLE),
            None => Err(io::Error::other("no process handle")),
        };
        // Resume in every case: a process left suspended would never print BOOT.
        let resumed = resume_threads(pid);
        let mut notes = Vec::new();
        let job = match job {
            Ok(job) => Some(job),
            Err(err) => {
                notes.push(format!("no job object ({err}): only the direct child can be killed"));
                None
            }
        };
        if let Err(err) = resumed {
            notes.push(format!("could not resume the suspended process ({err})"));
        }
        (ProcessTree { job }, (!notes.is_empty()).then(|| notes.join("; ")))
    }

    /// End every process in the job. Returns false when there is no job (the caller
    /// then kills the direct child itself).
    pub(crate) fn kill(&self) -> bool {
        match &self.job {
            Some(job) => {
                // SAFETY: a job handle we own.
                unsafe {
                    TerminateJobObject(job.0, KILLED_EXIT_CODE);
                }
                true
            }
            None => false,
        }
    }

    /// Whether any process of the job is alive; `None` without a job.
    pub(crate) fn alive(&self) -> Option<bool> {
        let job = self.job.as_ref()?;
        let mut info = JOBOBJECT_BASIC_ACCOUNTING_INFORMATION::default();
        // SAFETY: the buffer is the struct this information class fills, with its size.
        let ok = unsafe {
            QueryInformationJobObject(
                job.0,
                JobObjectBasicAccountingInformation,
                (&mut info as *mut JOBOBJECT_BASIC_ACCOUNTING_INFORMATION).cast::<c_void>(),
                size_of::<JOBOBJECT_BASIC_ACCOUNTING_INFORMATION>() as u32,
                std::ptr::null_mut(),
            )
        };
        (ok != 0).then_some(info.ActiveProcesses > 0)
    }

    /// The SIGTERM stop step: Windows has no such signal for a process without a
    /// console of ours; the step waits its timeout and the next one kills the job.
    pub(crate) fn terminate(&self) {}
}

/// A new job with KILL_ON_JOB_CLOSE holding `process`.
fn job_for(process: HANDLE) -> io::Result<OwnedHandle> {
    // SAFETY: plain Win32 calls; the job handle is owned (and closed) by OwnedHandle,
    // the info struct is the one JobObjectExtendedLimitInformation expects.
    unsafe {
        let handle = CreateJobObjectW(std::ptr::null(), std::ptr::null());
        if handle.is_null() {
            return Err(io::Error::last_os_error());
        }
        let job = OwnedHandle(handle);
        let mut info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
        info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        if SetInformationJobObject(
            job.0,
            JobObjectExtendedLimitInformation,
            (&info as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast::<c_void>(),
            size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        ) == 0
        {
            return Err(io::Error::last_os_error());
        }
        if AssignProcessToJobObject(job.0, process) == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(job)
    }
}

/// Resume every thread of the (suspended) process `pid`: std does not hand out the
/// main thread's handle, so find it with a Toolhelp snapshot.
fn resume_threads(pid: u32) -> io::Result<()> {
    // SAFETY: the snapshot handle is owned by OwnedHandle; each thread handle is
    // closed right after use; THREADENTRY32 carries its own size as the API requires.
    unsafe {
        let snapshot = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
        if snapshot == INVALID_HANDLE_VALUE {
            return Err(io::Error::last_os_error());
        }
        let snapshot = OwnedHandle(snapshot);
        let mut entry = THREADENTRY32 { dwSize: size_of::<THREADENTRY32>() as u32, ..Default::default() };
        let mut resumed = 0;
        let mut more = Thread32First(snapshot.0, &mut entry) != 0;
        while more {
            if entry.th32OwnerProcessID == pid {
                let thread = OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID);
                if !thread.is_null() {
                    if ResumeThread(thread) != u32::MAX {
                        resumed += 1;
                    }
                    CloseHandle(thread);
                }
            }
            more = Thread32Next(snapshot.0, &mut entry) != 0;
        }
        if resumed == 0 {
            return Err(io::Error::other(format!("no thread of pid {pid} could be resumed")));
        }
        Ok(())
    }
}

/// `<GetTempPath()>\sidecar-launch-<app>.lock`: the per-user temp dir (`%TMP%`, else `%TEMP%`, ...).
pub(crate) fn launch_lock_path(app: &str) -> PathBuf {
    std::env::temp_dir().join(format!("sidecar-launch-{app}.lock"))
}

/// Open (creating) the lock file. std opens handles non-inheritable, so no child
/// gets a copy; the share mode lets other hosts open it too.
pub(crate) fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
}

/// Try once to lock byte 0 exclusively (the byte the Python host's `msvcrt.locking`
/// takes): `Ok(false)` when another handle holds it.
pub(crate) fn try_lock(file: &File) -> io::Result<bool> {
    let mut overlapped = OVERLAPPED::default(); // offset 0
                                                // SAFETY: a file handle we own for the duration of the call; a zeroed OVERLAPPED.
    let ok = unsafe {
        LockFileEx(
            file.as_raw_handle() as HANDLE,
            LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY,
            0,
            1,
            0,
            &mut overlapped,
        )
    };
    if ok != 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(code) if code == ERROR_LOCK_VIOLATION as i32 => Ok(false),
        _ => Err(err),
    }
}

/// Drop the lock (explicitly: closing the handle releases it only "eventually").
pub(crate) fn unlock(file: &File) {
    let mut overlapped = OVERLAPPED::default();
    // SAFETY: as in try_lock.
    unsafe {
        UnlockFileEx(file.as_raw_handle() as HANDLE, 0, 1, 0, &mut overlapped);
    }
}
