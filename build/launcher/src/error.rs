//! The launcher's single failure type and its one-line JSON report.

use serde::Serialize;
use std::io::Write;

/// Exit status: the cache folder cannot be created or written, or there is no cache location.
pub const STATUS_CACHE: i32 = 4;
/// Exit status: the binary is damaged or not a launcher build, or the exec failed.
pub const STATUS_DAMAGED: i32 = 7;

#[derive(Debug)]
pub struct Failure {
    pub status: i32,
    pub msg: String,
}

impl Failure {
    pub fn cache(msg: impl Into<String>) -> Self {
        Failure {
            status: STATUS_CACHE,
            msg: msg.into(),
        }
    }

    pub fn damaged(msg: impl Into<String>) -> Self {
        Failure {
            status: STATUS_DAMAGED,
            msg: msg.into(),
        }
    }

    /// The stderr line; serde_json guarantees it is valid JSON whatever `msg` holds.
    pub fn to_json_line(&self) -> String {
        // A struct (not `json!`) keeps the field order stable and readable.
        #[derive(Serialize)]
        struct Line<'a> {
            level: &'a str,
            logger: &'a str,
            msg: &'a str,
            exit_status: i32,
        }
        let line = Line {
            level: "error",
            logger: "sidecar.launcher",
            msg: &self.msg,
            exit_status: self.status,
        };
        serde_json::to_string(&line).unwrap_or_else(|_| {
            format!(r#"{{"level":"error","logger":"sidecar.launcher","msg":"unreportable error","exit_status":{}}}"#, self.status)
        })
    }

    /// Exactly one line on stderr (never stdout: that is the engine's wire).
    pub fn report(&self) {
        let _ = writeln!(std::io::stderr().lock(), "{}", self.to_json_line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_is_valid_and_escaped() {
        let f = Failure::cache("bad \"path\"\nwith newline");
        let line = f.to_json_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["logger"], "sidecar.launcher");
        assert_eq!(v["msg"], "bad \"path\"\nwith newline");
        assert_eq!(v["exit_status"], 4);
        assert!(line.starts_with(r#"{"level":"error","logger":"sidecar.launcher","msg":"#));
    }
}
