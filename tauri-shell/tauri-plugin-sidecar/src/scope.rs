//! The gate between a webview and the sidecar: which methods the `call` command forwards.
//!
//! A window may call the methods its capability grants, the Tauri way: the
//! `sidecar:allow-call` permission carries a scope whose allow (and deny) entries are
//! [`MethodRule`]s, e.g.
//!
//! ```json
//! { "identifier": "sidecar:allow-call", "allow": [{ "method": "db.query" }, { "method": "jobs.*" }] }
//! ```
//!
//! or one of the ready-made permissions in `permissions/` (`sidecar:call-read-only`,
//! `sidecar:call-discovery`). Tauri hands the command the scopes of the capabilities
//! that matched the calling window ([`CommandScope`], [`GlobalScope`]); the
//! [`MethodPolicy`] built from them decides. Deny by default (the bare
//! `sidecar:allow-call` grants nothing), and privileged methods are refused whatever a
//! capability lists: the fixed list of the host crate plus what the running sidecar's
//! `rpc.discover` marks host-only (read once per process). The host's own Rust code
//! calls the supervisor directly and is not gated.

use std::sync::Arc;

use sidecar_host::policy::{privileged_in_discovery, MethodPolicy, MethodRule, Permit, Privileged, Refusal};
use sidecar_host::Supervisor;
use tauri::ipc::{CommandScope, GlobalScope};

/// What the gate remembers: the privileged set of the process it was read from.
struct Discovered {
    /// The sidecar process (spawned pid, engine pid) the set was read from.
    process: (u32, Option<u32>),
    /// The fixed list plus the methods its `rpc.discover` marked host-only.
    privileged: Arc<Privileged>,
}

/// Decides each `call` of a webview.
pub(crate) struct Gate {
    discovered: tokio::sync::Mutex<Option<Discovered>>,
}

impl Default for Gate {
    fn default() -> Self {
        Self::new()
    }
}

impl Gate {
    /// A gate that has read no discovery yet.
    pub(crate) fn new() -> Self {
        Gate { discovered: tokio::sync::Mutex::new(None) }
    }

    /// The [`Permit`] (with any pinned params) if the calling window may call `method`,
    /// else why not.
    pub(crate) async fn check(
        &self,
        supervisor: &Supervisor,
        scope: &CommandScope<MethodRule>,
        global: &GlobalScope<MethodRule>,
        method: &str,
    ) -> Result<Permit, Refusal> {
        let allow = scope.allows().iter().chain(global.allows()).map(|rule| MethodRule::clone(rule));
        let deny = scope.denies().iter().chain(global.denies()).map(|rule| MethodRule::clone(rule));
        let permit = MethodPolicy::new(allow, deny, Privileged::fixed()).decide(method)?;
        // Granted by the capability and not on the fixed list: the running sidecar may still
        // mark it host-only.
        if self.privileged(supervisor).await.contains(method) {
            return Err(Refusal::Privileged);
        }
        Ok(permit)
    }

    /// The privileged set for the current sidecar process, read from its `rpc.discover`
    /// once per process (the fixed list alone while it cannot be read).
    async fn privileged(&self, supervisor: &Supervisor) -> Arc<Privileged> {
        let Some(process) = supervisor.process().map(|p| (p.pid(), p.engine_pid())) else {
            return Arc::new(Privileged::fixed()); // nothing runs: the call fails with not_running anyway
        };
        let mut cache = self.discovered.lock().await;
        if let Some(known) = cache.as_ref().filter(|d| d.process == process) {
            return known.privileged.clone();
        }
        match supervisor.call("rpc.discover", None).await {
            Ok(doc) => {
                let privileged = Arc::new(Privileged::with(privileged_in_discovery(&doc)));
                if !privileged.discovered().is_empty() {
                    let names: Vec<&str> = privileged.discovered().iter().map(String::as_str).collect();
                    supervisor
                        .log()
                        .host(process.0, &format!("host-only methods (rpc.discover): {}", names.join(", ")));
                }
                *cache = Some(Discovered { process, privileged: privileged.clone() });
                privileged
            }
            Err(_) => Arc::new(Privileged::fixed()), // not cached: read again on the next call
        }
    }
}

/// `text` cut to at most `max` bytes (at a char boundary), for log lines about
/// what an untrusted caller sent.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len())
}
