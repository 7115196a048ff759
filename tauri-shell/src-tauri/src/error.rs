//! The one error type the commands return to the frontend.

use serde::Serialize;

/// A command error as the frontend sees it: `{kind, message, code?, data?}`.
///
/// `kind` is the host error's stable name (`not_running`, `call_timeout`,
/// `rpc_error`, ...); for `rpc_error`, `code` and `data` are the sidecar's
/// JSON-RPC error (with `data.kind` such as `sql_syntax`).
#[derive(Debug, Serialize)]
pub struct CommandError {
    /// Stable machine-readable name.
    pub kind: String,
    /// Actionable human-readable message.
    pub message: String,
    /// The JSON-RPC error code, for `rpc_error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// The JSON-RPC error data, for `rpc_error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl From<sidecar_host::Error> for CommandError {
    fn from(err: sidecar_host::Error) -> Self {
        let (code, data) = match &err {
            sidecar_host::Error::Rpc { error, .. } => (Some(error.code), error.data.clone()),
            _ => (None, None),
        };
        CommandError { kind: err.kind().to_owned(), message: err.to_string(), code, data }
    }
}

impl CommandError {
    /// An error made by the shell itself (not the host crate).
    pub fn shell(kind: &str, message: impl Into<String>) -> Self {
        CommandError { kind: kind.to_owned(), message: message.into(), code: None, data: None }
    }
}
