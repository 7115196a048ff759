//! The one error type the plugin's commands return to the frontend (and its Rust API returns).

use serde::Serialize;

/// The `kind` of a method refused by the plugin before it reached the sidecar.
pub const FORBIDDEN_METHOD: &str = "forbidden_method";

/// An error as the frontend sees it: `{kind, message, code?, data?, method?, reason?}`.
///
/// `kind` is the host error's stable name (`not_running`, `call_timeout`,
/// `rpc_error`, ...); for `rpc_error`, `code` and `data` are the sidecar's
/// JSON-RPC error (with `data.kind` such as `sql_syntax` or `forbidden_path`).
/// `forbidden_method` is the plugin's own refusal of a method the window's
/// capability does not grant: it never reached the sidecar; `method` names it
/// and `reason` says why (`not_granted`, `denied`, `privileged`, `malformed`).
#[derive(Debug, Serialize)]
pub struct Error {
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

impl From<sidecar_host::Error> for Error {
    fn from(err: sidecar_host::Error) -> Self {
        let (code, data) = match &err {
            sidecar_host::Error::Rpc { error, .. } => (Some(error.code), error.data.clone()),
            _ => (None, None),
        };
        Error { kind: err.kind().to_owned(), message: err.to_string(), code, data, method: None, reason: None }
    }
}

impl Error {
    /// An error made by the plugin itself (not the host crate): `invalid_argument`, or an
    /// app's own kind for commands built on the plugin (`dialog_open`).
    pub fn new(kind: &str, message: impl Into<String>) -> Self {
        Error { kind: kind.to_owned(), message: message.into(), code: None, data: None, method: None, reason: None }
    }

    /// The plugin refused `method` for the calling window (it was not sent to the sidecar).
    pub fn forbidden_method(method: &str, refusal: sidecar_host::policy::Refusal) -> Self {
        Error {
            kind: FORBIDDEN_METHOD.to_owned(),
            message: refusal.explain(method),
            code: None,
            data: None,
            method: Some(method.to_owned()),
            reason: Some(refusal.as_str()),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

impl std::error::Error for Error {}

/// The plugin's result type.
pub type Result<T> = std::result::Result<T, Error>;
