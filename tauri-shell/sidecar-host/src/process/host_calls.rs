//! Host-only calls: methods the sidecar serves only with the host key in their
//! params (`files.grant`, `files.revoke`, `secrets.get`; the sidecar answers
//! `host_only` without it). Only the host's own code calls them, through
//! [`SidecarProcess::call_host`] or the typed helpers on the
//! [`Supervisor`](super::Supervisor): [`grant_path`](super::Supervisor::grant_path),
//! [`revoke_grant`](super::Supervisor::revoke_grant).
//!
//! A grant lets the engine read (ingest) or write (export) one file or folder
//! outside its data dir, for the life of the sidecar process. The supervisor
//! remembers the grants made through it and makes them again after each
//! restart (they were given by the user to this app session, not to one process).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::child::SidecarProcess;
use super::host_key::{HostKey, HOST_KEY_PARAM};
use crate::error::{Error, Result};

/// The method that grants a path.
pub const GRANT_METHOD: &str = "files.grant";
/// The method that revokes a grant.
pub const REVOKE_METHOD: &str = "files.revoke";
/// Grants a supervisor remembers to make again after a restart (the oldest is forgotten first).
pub const MAX_REMEMBERED_GRANTS: usize = 256;

/// What a grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantMode {
    /// Reading (an ingest source).
    Read,
    /// Writing (an export target).
    Write,
}

impl GrantMode {
    /// `read` or `write`, as the protocol spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantMode::Read => "read",
            GrantMode::Write => "write",
        }
    }
}

/// What was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantKind {
    /// One file.
    File,
    /// A folder and everything inside it.
    Folder,
}

/// A grant, as `files.grant` answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The sidecar's id for it (for `files.revoke`).
    pub grant_id: String,
    /// The path, resolved by the sidecar (absolute, symlinks followed).
    pub path: PathBuf,
    /// What it allows.
    pub mode: GrantMode,
    /// File or folder.
    pub kind: GrantKind,
    /// When it was granted (ISO 8601 UTC), as the sidecar says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granted_at: Option<String>,
}

/// `params` with the host key added (`None` becomes `{host_key}`).
fn with_host_key(method: &str, params: Option<Value>, key: &HostKey) -> Result<Value> {
    let mut object = match params {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(object)) => object,
        Some(_) => {
            return Err(Error::InvalidHostCall {
                method: method.to_owned(),
                reason: "host-only calls take their params by name (a JSON object)".into(),
            })
        }
    };
    object.insert(HOST_KEY_PARAM.to_owned(), Value::String(key.expose().to_owned()));
    Ok(Value::Object(object))
}

impl SidecarProcess {
    /// Call a host-only method with the default timeout: the host key is added to `params`
    /// (an object, or `None`). Never hand this to untrusted callers.
    pub async fn call_host(&self, method: &str, params: Option<Value>) -> Result<Value> {
        self.call_host_with_timeout(method, params, self.inner.config.call_timeout).await
    }

    /// [`call_host`](Self::call_host) with an explicit timeout.
    pub async fn call_host_with_timeout(
        &self,
        method: &str,
        params: Option<Value>,
        timeout: Duration,
    ) -> Result<Value> {
        let params = with_host_key(method, params, &self.inner.host_key)?;
        self.call_with_timeout(method, Some(params), timeout).await
    }

    /// `files.grant {path, mode}` with the host key; the sidecar resolves the path.
    pub async fn grant_path(&self, path: &std::path::Path, mode: GrantMode) -> Result<Grant> {
        let params = serde_json::json!({ "path": path, "mode": mode.as_str() });
        let answer = self.call_host(GRANT_METHOD, Some(params)).await?;
        serde_json::from_value(answer)
            .map_err(|e| Error::BadResult { method: GRANT_METHOD.to_owned(), reason: e.to_string() })
    }

    /// `files.revoke {grant_id}` with the host key; true if a grant was revoked.
    pub async fn revoke_grant(&self, grant_id: &str) -> Result<bool> {
        let answer = self.call_host(REVOKE_METHOD, Some(serde_json::json!({ "grant_id": grant_id }))).await?;
        answer
            .get("revoked")
            .and_then(Value::as_bool)
            .ok_or_else(|| Error::BadResult { method: REVOKE_METHOD.to_owned(), reason: "no boolean `revoked`".into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_added_to_object_params_only() {
        let key = HostKey::generate().unwrap();
        let params = with_host_key("files.grant", Some(serde_json::json!({"path": "/x"})), &key).unwrap();
        assert_eq!(params["path"], "/x");
        assert_eq!(params[HOST_KEY_PARAM], key.expose());
        let empty = with_host_key("secrets.get", None, &key).unwrap();
        assert_eq!(empty.as_object().unwrap().len(), 1);
        // A caller's own host_key is overwritten, never forwarded.
        let forged = with_host_key("files.grant", Some(serde_json::json!({"host_key": "guess"})), &key).unwrap();
        assert_eq!(forged[HOST_KEY_PARAM], key.expose());
        let err = with_host_key("files.grant", Some(serde_json::json!(["/x"])), &key).unwrap_err();
        assert_eq!(err.kind(), "invalid_host_call");
    }

    #[test]
    fn grants_decode_from_the_sidecar_answer() {
        let grant: Grant = serde_json::from_value(serde_json::json!({
            "grant_id": "g1", "path": "/home/u/in.csv", "mode": "read", "kind": "file",
            "granted_at": "2026-12-01T23:00:00.000Z", "extra": 1
        }))
        .unwrap();
        assert_eq!(grant.granted_at.as_deref(), Some("2026-12-01T23:00:00.000Z"));
        assert_eq!(grant.mode, GrantMode::Read);
        assert_eq!(grant.kind, GrantKind::File);
        assert_eq!(grant.path, PathBuf::from("/home/u/in.csv"));
        assert_eq!(serde_json::to_value(GrantMode::Write).unwrap(), "write");
    }
}
