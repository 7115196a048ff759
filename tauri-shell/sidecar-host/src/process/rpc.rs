//! JSON-RPC calls to a running sidecar: each request waits in a table keyed
//! by its id with its own timeout; the stdout reader resolves it with the
//! answer, and when the process is gone every waiter gets
//! [`Error::SidecarExited`].

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

use super::child::{Inner, SidecarProcess};
use super::ERROR_STDERR_TAIL_LINES;
use crate::error::{Error, ExitStatus, Result};
use crate::protocol::{encode_notification, encode_request, ErrorObject, RawJson};

/// How long a timed-out call waits to write its `rpc.cancel` (stdin may be full).
const CANCEL_WRITE_TIMEOUT: Duration = Duration::from_millis(200);

/// A call waiting for its answer.
pub(super) struct Pending {
    /// The method called (for error messages).
    method: String,
    /// Where the answer goes.
    reply: oneshot::Sender<Result<RawJson>>,
}

impl SidecarProcess {
    /// Call `method` with the config's default timeout; returns the decoded result.
    pub async fn call(&self, method: &str, params: Option<Value>) -> Result<Value> {
        self.call_with_timeout(method, params, self.inner.config.call_timeout).await
    }

    /// Call `method`; an error answer becomes [`Error::Rpc`].
    ///
    /// On timeout the sidecar is sent an `rpc.cancel` notification for the id
    /// so it stops the work, and [`Error::CallTimeout`] is returned.
    pub async fn call_with_timeout(&self, method: &str, params: Option<Value>, timeout: Duration) -> Result<Value> {
        let raw = self.call_raw(method, params, timeout).await?;
        serde_json::from_str(raw.get())
            .map_err(|e| Error::BadResult { method: method.to_owned(), reason: e.to_string() })
    }

    /// Like [`call_with_timeout`](Self::call_with_timeout) but returns the raw JSON text of the result.
    pub async fn call_raw(&self, method: &str, params: Option<Value>, timeout: Duration) -> Result<RawJson> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if let Some(status) = *self.inner.exited.borrow() {
            return Err(self.exited_error(method, status));
        }
        self.inner.pending.lock().expect("pending").insert(id, Pending { method: method.to_owned(), reply: tx });
        let line = encode_request(id, method, params.as_ref());
        let outcome = tokio::time::timeout(timeout, async {
            self.write(&line).await.map_err(|_| self.exited_error(method, self.exit_status()))?;
            rx.await.map_err(|_| self.exited_error(method, self.exit_status()))?
        })
        .await;
        self.inner.pending.lock().expect("pending").remove(&id);
        match outcome {
            Ok(result) => self.inner.scrub_answer(result),
            Err(_) => {
                let cancel = encode_notification("rpc.cancel", Some(&serde_json::json!({ "id": id })));
                let _ = tokio::time::timeout(CANCEL_WRITE_TIMEOUT, self.write(&cancel)).await;
                Err(Error::CallTimeout { method: method.to_owned(), timeout })
            }
        }
    }

    /// Send a notification (never answered).
    pub async fn notify(&self, method: &str, params: Option<Value>) -> Result<()> {
        let line = encode_notification(method, params.as_ref());
        self.write(&line).await.map_err(|_| self.exited_error(method, self.exit_status()))
    }

    /// Write bytes to the sidecar's stdin as given (add the newline yourself).
    ///
    /// A failed write is [`Error::Io`], with the I/O error as its source.
    pub async fn send_raw(&self, data: &[u8]) -> Result<()> {
        self.write(data).await.map_err(Error::from)
    }

    /// Write and flush `data` to stdin; `BrokenPipe` once stdin was closed.
    async fn write(&self, data: &[u8]) -> std::io::Result<()> {
        let mut stdin = self.inner.stdin.lock().await;
        let pipe = stdin.as_mut().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin closed"))?;
        pipe.write_all(data).await?;
        pipe.flush().await
    }

    /// The error for a call that cannot be answered because the process is gone.
    fn exited_error(&self, method: &str, status: Option<ExitStatus>) -> Error {
        Error::SidecarExited {
            method: method.to_owned(),
            status,
            stderr_tail: self.stderr_tail(ERROR_STDERR_TAIL_LINES),
        }
    }
}

impl Inner {
    /// An answer with the host key masked, should the sidecar ever have echoed it
    /// (results and errors go on to callers the key must never reach, such as a webview).
    fn scrub_answer(&self, answer: Result<RawJson>) -> Result<RawJson> {
        match answer {
            Ok(raw) => match self.host_key.scrub(raw.get()) {
                Cow::Borrowed(_) => Ok(raw),
                Cow::Owned(clean) => serde_json::value::RawValue::from_string(clean)
                    .map_err(|e| Error::BadResult { method: "(scrubbed answer)".into(), reason: e.to_string() }),
            },
            Err(Error::Rpc { method, mut error }) => {
                error.message = self.host_key.scrub(&error.message).into_owned();
                if let Some(data) = &error.data {
                    let text = data.to_string();
                    if let Cow::Owned(clean) = self.host_key.scrub(&text) {
                        error.data = serde_json::from_str(&clean).ok();
                    }
                }
                Err(Error::Rpc { method, error })
            }
            Err(other) => Err(other),
        }
    }

    /// Fail every pending call with [`Error::SidecarExited`] (the process is gone).
    pub(super) fn fail_pending(&self, status: Option<ExitStatus>) {
        let drained: Vec<Pending> = self.pending.lock().expect("pending").drain().map(|(_, p)| p).collect();
        for pending in drained {
            let err = Error::SidecarExited {
                method: pending.method,
                status,
                stderr_tail: self.stderr.tail(ERROR_STDERR_TAIL_LINES),
            };
            let _ = pending.reply.send(Err(err));
        }
    }

    /// Hand an answer to the call waiting for `id`; false if none waits for it.
    pub(super) fn resolve(&self, id: &RawJson, answer: std::result::Result<RawJson, ErrorObject>) -> bool {
        let Ok(key) = id.get().parse::<u64>() else { return false };
        let Some(pending) = self.pending.lock().expect("pending").remove(&key) else { return false };
        let result = answer.map_err(|error| Error::Rpc { method: pending.method, error });
        let _ = pending.reply.send(result);
        true
    }
}
