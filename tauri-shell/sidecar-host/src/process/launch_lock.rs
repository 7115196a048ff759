//! The launch lock: sidecar launches on one machine pass spawn -> BOOT one at a time.
//!
//! Why (issue-log 0012): a Nuitka onefile bootstrap checks its cached extraction
//! folder by mmapping each file and rewrites a file whose CRC differs in place. Two
//! bootstraps started together on an empty cache write files the other has mapped,
//! and one dies of SIGBUS. The bootstrap is Nuitka's C code, so the hosts serialise
//! it: [`SidecarProcess::spawn`](super::SidecarProcess::spawn) takes an exclusive
//! advisory lock before spawning and drops it when BOOT is read (by then the
//! bootstrap has checked or written every file and started the engine), when stdout
//! ends or the process exits before BOOT, when the READY wait fails, after
//! `ready_timeout` at the latest, or when the spawn fails. A warm start waits for
//! another launch's bootstrap (~100 ms), a cold one for its extraction (seconds).
//!
//! Where: ONE file per user and app name for every sidecar binary of that app
//! ([`launch_lock_path_for`]; [`default_launch_lock_path`] for [`DEFAULT_APP_NAME`]):
//! `/tmp/sidecar-launch-<uid>-<app>.lock` on Unix (`/tmp`, not `$TMPDIR`, so hosts started
//! from different environments agree), `<GetTempPath()>\sidecar-launch-<app>.lock` on
//! Windows, `<app>` being the app name the binary was built with, every character outside
//! `[A-Za-z0-9._-]` replaced by `_` (the Python and Node hosts apply the same rule). Per app
//! because the extraction folder is the app's own (`<cache>/<app>/sidecar/<version>-<build
//! id>`): two apps never race on one folder, so they need not wait for each other. Not one
//! per binary path: every copy of one build shares one extraction folder, and copies are normal
//! (`dist/nuitka/`, `src-tauri/binaries/`, the target dir, `/usr/bin` in the .deb).
//! Not a content hash or the build id: reading 35 MB per launch, or Nuitka's
//! bootstrap data, to learn it; and two builds of the same sources share a folder
//! without being byte-identical. Too wide a lock costs a short wait, rarely; too
//! narrow a lock costs the crash. Not beside the binary (`/usr/bin` is read-only),
//! not in the cache (hosts do not know where it is: it is compiled in).
//!
//! The Python host (`hosts/python/sidecar_host/launch_lock.py`) computes the same
//! path and locks the same way (`flock(LOCK_EX)`; byte 0 on Windows), so a Rust and
//! a Python host exclude each other. A held lock is waited for at most
//! `launch_lock_wait`, polling; then, or when the file cannot be opened or locked,
//! the launch goes ahead without it and the host log says why: the lock guards one
//! race, it is never a reason not to start.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::platform;

/// Default longest wait for another launch's lock before starting without it: far
/// longer than a queue of first launches (8 at once: 2-4 s for the last one here),
/// shorter than a user's patience. A holder keeps it at most its `ready_timeout`.
pub const LAUNCH_LOCK_WAIT: Duration = Duration::from_secs(30);
/// How often a held lock is tried again.
const LAUNCH_LOCK_POLL: Duration = Duration::from_millis(20);

/// Whether and where a launch takes the launch lock (see the module docs of
/// `process/launch_lock.rs` and docs/TAURI.md).
///
/// ```
/// use sidecar_host::{LaunchLock, SidecarConfig};
/// let config = SidecarConfig::new("/opt/app/sidecar").launch_lock(LaunchLock::Off);
/// assert_eq!(config.launch_lock.path(), None);
/// let shared = LaunchLock::Default.path().unwrap();
/// assert!(shared.file_name().unwrap().to_string_lossy().starts_with("sidecar-launch"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum LaunchLock {
    /// The machine's lock file for this user, shared with every other host: [`default_launch_lock_path`].
    #[default]
    Default,
    /// This lock file instead (tests; an app that wants its own).
    File(PathBuf),
    /// No lock: launches may run their bootstraps concurrently.
    Off,
}

impl LaunchLock {
    /// The lock file it uses for the default app name, `None` when off.
    pub fn path(&self) -> Option<PathBuf> {
        self.path_for(DEFAULT_APP_NAME)
    }

    /// The lock file it uses for a sidecar built with `app_name`, `None` when off.
    pub fn path_for(&self, app_name: &str) -> Option<PathBuf> {
        match self {
            LaunchLock::Default => Some(launch_lock_path_for(app_name)),
            LaunchLock::File(path) => Some(path.clone()),
            LaunchLock::Off => None,
        }
    }
}

/// The app name a sidecar is built with unless its app package says otherwise (this
/// repository's own app): it names the extraction folder, the data folder and the
/// keychain service.
pub const DEFAULT_APP_NAME: &str = "PlutoDuck";

/// The lock file every host on this machine uses for this user and the default app name:
/// `/tmp/sidecar-launch-<uid>-PlutoDuck.lock` on Unix, `<GetTempPath()>\sidecar-launch-PlutoDuck.lock`
/// on Windows.
pub fn default_launch_lock_path() -> PathBuf {
    launch_lock_path_for(DEFAULT_APP_NAME)
}

/// The lock file for the sidecars of `app_name`: `/tmp/sidecar-launch-<uid>-<app>.lock`
/// (`<GetTempPath()>\sidecar-launch-<app>.lock` on Windows). Characters other than ASCII
/// letters, digits, `.`, `_` and `-` become `_` (per char), so a name cannot reach another
/// folder; the Python and Node hosts apply the same rule.
pub fn launch_lock_path_for(app_name: &str) -> PathBuf {
    let safe: String = app_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
        .collect();
    platform::launch_lock_path(&safe)
}

/// A held launch lock; dropping it releases it.
#[derive(Debug)]
pub(super) struct HeldLaunchLock {
    file: File,
    since: Instant,
}

impl HeldLaunchLock {
    /// How long it has been held.
    pub(super) fn held_for(&self) -> Duration {
        self.since.elapsed()
    }
}

impl Drop for HeldLaunchLock {
    fn drop(&mut self) {
        platform::unlock(&self.file); // the file closes right after
    }
}

/// What [`acquire`] got: the lock (or not) and a line for the host log.
pub(super) struct Acquired {
    /// The lock, if it was taken.
    pub(super) held: Option<HeldLaunchLock>,
    /// What happened, for the host log (`None` when the lock is off).
    pub(super) note: Option<String>,
}

/// Take the lock `lock` names for `app_name`, waiting at most `wait`; never fails (see the module docs).
pub(super) async fn acquire(lock: &LaunchLock, app_name: &str, wait: Duration) -> Acquired {
    let Some(path) = lock.path_for(app_name) else {
        return Acquired { held: None, note: None };
    };
    let started = Instant::now();
    let (held, outcome) = match take(&path, started, wait).await {
        Ok(Some(held)) => (Some(held), "held".to_owned()),
        Ok(None) => (None, format!("still held by another launch after {wait:?}; starting without it")),
        Err(err) => (None, format!("not usable ({err}); starting without it")),
    };
    let note = format!("launch lock {}: {outcome} (waited {} ms)", path.display(), started.elapsed().as_millis());
    Acquired { held, note: Some(note) }
}

/// Open `path` and poll the lock until it is ours (`Some`) or `wait` is over (`None`).
async fn take(path: &Path, started: Instant, wait: Duration) -> std::io::Result<Option<HeldLaunchLock>> {
    let file = platform::open_lock_file(path)?;
    loop {
        if platform::try_lock(&file)? {
            return Ok(Some(HeldLaunchLock { file, since: Instant::now() }));
        }
        if started.elapsed() >= wait {
            return Ok(None);
        }
        tokio::time::sleep(LAUNCH_LOCK_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sidecar-host-lock-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    #[test]
    fn the_default_is_one_file_per_user_and_app_in_tmp() {
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        assert_eq!(default_launch_lock_path(), PathBuf::from(format!("/tmp/sidecar-launch-{uid}-PlutoDuck.lock")));
        assert_eq!(LaunchLock::Default.path(), Some(default_launch_lock_path()));
        assert_eq!(LaunchLock::Off.path(), None);
    }

    #[cfg(unix)]
    #[test]
    fn each_app_name_gets_its_own_file() {
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        assert_eq!(launch_lock_path_for(DEFAULT_APP_NAME), default_launch_lock_path());
        assert_eq!(launch_lock_path_for("WordFreq"), PathBuf::from(format!("/tmp/sidecar-launch-{uid}-WordFreq.lock")));
        assert_eq!(
            launch_lock_path_for("../My App"),
            PathBuf::from(format!("/tmp/sidecar-launch-{uid}-.._My_App.lock")),
            "a name never leaves /tmp"
        );
        assert_eq!(LaunchLock::Default.path_for("WordFreq"), Some(launch_lock_path_for("WordFreq")));
        let file = LaunchLock::File(PathBuf::from("/run/x.lock"));
        assert_eq!(file.path_for("WordFreq"), Some(PathBuf::from("/run/x.lock")), "an explicit file wins");
    }

    #[tokio::test]
    async fn two_app_names_do_not_wait_for_each_other() {
        let first = acquire(&LaunchLock::Default, "SidecarHostTestAppA", LAUNCH_LOCK_WAIT).await;
        assert!(first.held.is_some(), "{:?}", first.note);
        let other = acquire(&LaunchLock::Default, "SidecarHostTestAppB", Duration::from_millis(200)).await;
        assert!(other.held.is_some(), "another app's launch waited: {:?}", other.note);
        let same = acquire(&LaunchLock::Default, "SidecarHostTestAppA", Duration::from_millis(200)).await;
        assert!(same.held.is_none(), "the same app's second launch did not wait: {:?}", same.note);
        drop((first, other));
        for app in ["SidecarHostTestAppA", "SidecarHostTestAppB"] {
            let _ = std::fs::remove_file(launch_lock_path_for(app));
        }
    }

    #[tokio::test]
    async fn a_second_launch_waits_for_the_first_to_release() {
        let dir = scratch("wait");
        let lock = LaunchLock::File(dir.join("launch.lock"));
        let first = acquire(&lock, DEFAULT_APP_NAME, LAUNCH_LOCK_WAIT).await;
        assert!(first.held.is_some(), "{:?}", first.note);
        let waiter = {
            let lock = lock.clone();
            tokio::spawn(async move { acquire(&lock, DEFAULT_APP_NAME, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiter.is_finished(), "the second launch did not wait");
        drop(first);
        let second = waiter.await.unwrap();
        assert!(second.held.is_some(), "{:?}", second.note);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn the_wait_is_bounded_and_then_the_launch_goes_ahead() {
        let dir = scratch("bounded");
        let lock = LaunchLock::File(dir.join("launch.lock"));
        let holder = acquire(&lock, DEFAULT_APP_NAME, LAUNCH_LOCK_WAIT).await;
        let started = Instant::now();
        let late = acquire(&lock, DEFAULT_APP_NAME, Duration::from_millis(200)).await;
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(late.held.is_none());
        assert!(late.note.unwrap().contains("still held by another launch"));
        drop(holder);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn an_unusable_lock_file_is_logged_not_fatal() {
        let lock = LaunchLock::File(PathBuf::from("/no/such/dir/launch.lock"));
        let got = acquire(&lock, DEFAULT_APP_NAME, LAUNCH_LOCK_WAIT).await;
        assert!(got.held.is_none());
        assert!(got.note.unwrap().contains("not usable"));
        assert!(acquire(&LaunchLock::Off, DEFAULT_APP_NAME, LAUNCH_LOCK_WAIT).await.note.is_none());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_planted_symlink_is_not_followed() {
        let dir = scratch("symlink");
        let target = dir.join("someone-elses-file");
        std::fs::write(&target, "keep me").unwrap();
        std::os::unix::fs::symlink(&target, dir.join("launch.lock")).unwrap();
        let got = acquire(&LaunchLock::File(dir.join("launch.lock")), DEFAULT_APP_NAME, LAUNCH_LOCK_WAIT).await;
        assert!(got.held.is_none(), "{:?}", got.note);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
        let _ = std::fs::remove_dir_all(dir);
    }
}
