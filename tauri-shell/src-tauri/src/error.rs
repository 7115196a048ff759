//! The one error type the commands return to the frontend.

use serde::Serialize;

/// The `kind` of a method refused by the shell before it reached the sidecar.
pub const FORBIDDEN_METHOD: &str = "forbidden_method";

/// A command error as the frontend sees it: `{kind, message, code?, data?, method?, reason?}`.
///
/// `kind` is the host error's stable name (`not_running`, `call_timeout`,
/// `rpc_error`, ...); for `rpc_error`, `code` and `data` are the sidecar's
/// JSON-RPC error (with `data.kind` such as `sql_syntax` or `forbidden_path`).
/// `forbidden_method` is the shell's own refusal of a method the window's
/// capability does not grant: it never reached the sidecar; `method` names it
/// and `reason` says why (`not_granted`, `denied`, `privileged`, `malformed`).
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
    /// The refused method, for `forbidden_method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Why it was refused, for `forbidden_method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
}

impl From<sidecar_host::Error> for CommandError {
    fn from(err: sidecar_host::Error) -> Self {
        let (code, data) = match &err {
            sidecar_host::Error::Rpc { error, .. } => (Some(error.code), error.data.clone()),
            _ => (None, None),
        };
        CommandError { kind: err.kind().to_owned(), message: err.to_string(), code, data, method: None, reason: None }
    }
}

impl CommandError {
    /// An error made by the shell itself (not the host crate).
    pub fn shell(kind: &str, message: impl Into<String>) -> Self {
        CommandError {
            kind: kind.to_owned(),
            message: message.into(),
            code: None,
            data: None,
            method: None,
            reason: None,
        }
    }

    /// The shell refused `method` for the calling window (it was not sent to the sidecar).
    pub fn forbidden_method(method: &str, refusal: sidecar_host::policy::Refusal) -> Self {
        CommandError {
            kind: FORBIDDEN_METHOD.to_owned(),
            message: refusal.explain(method),
            code: None,
            data: None,
            method: Some(method.to_owned()),
            reason: Some(refusal.as_str()),
        }
    }
}
