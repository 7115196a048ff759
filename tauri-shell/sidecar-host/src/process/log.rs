//! Where the sidecar's stderr goes: a bounded ring of recent lines (for error
//! messages), the app's log file (everything), and a broadcast channel for live
//! viewers (lossy: a slow viewer misses lines, the file does not).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::broadcast;

/// Rotate the host log when it grows past this size.
pub const LOG_ROTATE_BYTES: u64 = 5 * 1024 * 1024;
/// Capacity of the live log broadcast channel (lines a slow viewer may lag).
pub const LOG_BROADCAST_CAPACITY: usize = 1024;
/// Lines a [`StderrRing`] allocates up front at most (a large ring grows as lines come).
const RING_PREALLOCATED_LINES: usize = 1024;

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogSource {
    /// A line the sidecar wrote to stderr (usually a JSON log record).
    Stderr,
    /// A message from the host itself (state changes, errors, stop steps).
    Host,
}

/// One log line as delivered to live viewers.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// Milliseconds since the Unix epoch when the host saw it.
    pub ts_ms: u64,
    /// Who wrote it.
    pub source: LogSource,
    /// The pid of the sidecar process it concerns (0 when none).
    pub pid: u32,
    /// The text, without newline.
    pub line: String,
}

/// The last N stderr lines of one process.
#[derive(Debug)]
pub struct StderrRing {
    lines: Mutex<VecDeque<String>>,
    capacity: usize,
}

impl StderrRing {
    /// A ring that keeps the last `capacity` lines.
    pub fn new(capacity: usize) -> Self {
        Self {
            lines: Mutex::new(VecDeque::with_capacity(capacity.min(RING_PREALLOCATED_LINES))),
            capacity: capacity.max(1),
        }
    }

    /// Append a line, dropping the oldest when full.
    pub fn push(&self, line: String) {
        let mut lines = self.lines.lock().expect("ring lock");
        if lines.len() == self.capacity {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The last `n` lines, oldest first.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let lines = self.lines.lock().expect("ring lock");
        let from = lines.len().saturating_sub(n);
        lines.iter().skip(from).cloned().collect()
    }
}

/// Create `dir` and its missing parents, owner-only (0700 on Unix): the log holds the
/// engine's messages, which may name the user's files (the sidecar uses the same modes).
fn private_dir_all(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Open `path` for appending, created owner-only (0600 on Unix).
fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

struct LogFile {
    path: PathBuf,
    file: Option<File>,
    written: u64,
}

/// The host's log: an append-only file (rotated once at [`LOG_ROTATE_BYTES`])
/// plus a broadcast channel for live viewers. Cheap to clone.
#[derive(Clone)]
pub struct HostLog {
    file: Option<Arc<Mutex<LogFile>>>,
    live: broadcast::Sender<LogLine>,
}

impl std::fmt::Debug for HostLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostLog").field("path", &self.path()).finish()
    }
}

impl HostLog {
    /// A log that writes to `path` (parent folders are created) and to live viewers.
    /// `None` keeps only the live channel.
    pub fn new(path: Option<&Path>) -> std::io::Result<Self> {
        let file = match path {
            None => None,
            Some(path) => {
                if let Some(parent) = path.parent() {
                    private_dir_all(parent)?;
                }
                let file = open_private(path)?;
                let written = file.metadata().map(|m| m.len()).unwrap_or(0);
                Some(Arc::new(Mutex::new(LogFile { path: path.to_owned(), file: Some(file), written })))
            }
        };
        let (live, _) = broadcast::channel(LOG_BROADCAST_CAPACITY);
        Ok(Self { file, live })
    }

    /// A log with no file (tests, or hosts that only want live lines).
    pub fn disabled() -> Self {
        Self::new(None).expect("no file to open")
    }

    /// The file this log writes to, if any.
    pub fn path(&self) -> Option<PathBuf> {
        self.file.as_ref().map(|f| f.lock().expect("log lock").path.clone())
    }

    /// Receive every line logged from now on (lossy for slow receivers).
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.live.subscribe()
    }

    /// Log one line.
    pub fn write(&self, source: LogSource, pid: u32, line: &str) {
        let entry = LogLine { ts_ms: now_ms(), source, pid, line: line.to_owned() };
        if let Some(file) = &self.file {
            let mut file = file.lock().expect("log lock");
            let tag = match source {
                LogSource::Stderr => "stderr",
                LogSource::Host => "host",
            };
            let text = format!("{} {tag} pid={pid} {line}\n", entry.ts_ms);
            if file.written + text.len() as u64 > LOG_ROTATE_BYTES {
                file.rotate();
            }
            if let Some(handle) = file.file.as_mut() {
                if handle.write_all(text.as_bytes()).is_ok() {
                    file.written += text.len() as u64;
                }
            }
        }
        let _ = self.live.send(entry); // no viewers is fine
    }

    /// Log a host message.
    pub fn host(&self, pid: u32, message: &str) {
        self.write(LogSource::Host, pid, message);
    }
}

impl LogFile {
    fn rotate(&mut self) {
        self.file = None;
        let mut backup = self.path.clone().into_os_string();
        backup.push(".1");
        let _ = std::fs::rename(&self.path, &backup);
        self.file = open_private(&self.path).ok();
        self.written = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_last_lines() {
        let ring = StderrRing::new(3);
        for i in 0..5 {
            ring.push(format!("l{i}"));
        }
        assert_eq!(ring.tail(10), ["l2", "l3", "l4"]);
        assert_eq!(ring.tail(1), ["l4"]);
    }

    #[test]
    fn log_file_and_live_lines() {
        let dir = std::env::temp_dir().join(format!("sidecar-host-log-{}", std::process::id()));
        let path = dir.join("sub").join("host.log");
        let log = HostLog::new(Some(&path)).unwrap();
        let mut live = log.subscribe();
        log.write(LogSource::Stderr, 7, "{\"msg\":\"hi\"}");
        log.host(7, "state ready");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("stderr pid=7 {\"msg\":\"hi\"}"), "{text}");
        assert!(text.contains("host pid=7 state ready"), "{text}");
        assert_eq!(live.try_recv().unwrap().line, "{\"msg\":\"hi\"}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600, "the host log is the user's only");
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
