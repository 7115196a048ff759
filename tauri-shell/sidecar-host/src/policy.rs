//! Which sidecar methods an untrusted caller (a webview) may call.
//!
//! The host's own code calls everything; a webview calls only what its
//! capability grants. A grant is a list of [`MethodRule`]s (`{"method": "db.query"}`,
//! `{"method": "jobs.*"}`), read from the Tauri capability's scope; a
//! [`MethodPolicy`] built from the allow and deny rules decides each call:
//!
//! * deny by default: no allow rule, no call;
//! * a deny rule beats every allow rule;
//! * an allow rule may pin params (`{"method": "db.query", "params": {"allow_write": false}}`):
//!   the call is forwarded with those members forced to those values, so a
//!   read-only console stays read-only whatever the page sends;
//! * a privileged method ([`PRIVILEGED_METHODS`], [`PRIVILEGED_NAMESPACES`],
//!   and whatever the sidecar's `rpc.discover` marks host-only) is refused
//!   whatever the rules say, wildcard or exact name: those are for the host.
//!
//! The module has no I/O and no Tauri types, so the rules are unit-tested here.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Methods no webview may call, whatever its capability lists: they stop the
/// engine (`system.shutdown`), hand out secret values (`secrets.get`), widen
/// what the engine may touch on disk (`files.grant`, `files.revoke`), or act on
/// the host's own requests (`rpc.cancel` takes a request id, and the ids are
/// the host's: a page could cancel the host's calls).
pub const PRIVILEGED_METHODS: &[&str] =
    &["system.shutdown", "secrets.get", "files.grant", "files.revoke", "rpc.cancel"];

/// Namespaces no webview may call: the test-only methods (`test.*`, present
/// only with `SIDECAR_TEST_METHODS=1`, and `testing.*` should they be renamed).
pub const PRIVILEGED_NAMESPACES: &[&str] = &["test", "testing"];

/// Keys of a method object in `rpc.discover` that mark it as the host's only
/// (any one of them set to `true`).
pub const DISCOVERY_PRIVILEGE_MARKERS: &[&str] = &["x-host-only", "x-privileged"];

/// The longest method name a caller may send (longer is malformed, never forwarded).
pub const MAX_METHOD_NAME_BYTES: usize = 128;

/// A method pattern that cannot be used in a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRule {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for InvalidRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid sidecar method rule {:?}: {} (use an exact name such as \"db.query\", a namespace such as \"jobs.*\", or \"*\")",
            self.pattern, self.reason
        )
    }
}

impl std::error::Error for InvalidRule {}

/// What a rule matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MethodPattern {
    /// This method name exactly.
    Exact(String),
    /// Every method of this namespace (`jobs.*` -> `jobs`): `jobs.list`, `jobs.get`, ...
    Namespace(String),
    /// Every method (`*`). Privileged methods stay refused.
    Any,
}

impl MethodPattern {
    /// Parse `db.query`, `jobs.*` or `*`.
    pub fn parse(pattern: &str) -> Result<MethodPattern, InvalidRule> {
        let invalid = |reason| InvalidRule { pattern: pattern.to_owned(), reason };
        if pattern == "*" {
            return Ok(MethodPattern::Any);
        }
        if let Some(namespace) = pattern.strip_suffix(".*") {
            if !is_well_formed(namespace) {
                return Err(invalid("the namespace before \".*\" must be a method name prefix such as \"jobs\""));
            }
            return Ok(MethodPattern::Namespace(namespace.to_owned()));
        }
        if pattern.contains('*') {
            return Err(invalid("\"*\" may only stand alone or end a namespace (\"jobs.*\")"));
        }
        if !is_well_formed(pattern) || !pattern.contains('.') {
            return Err(invalid("a method name is dot-separated words of letters, digits and \"_\""));
        }
        Ok(MethodPattern::Exact(pattern.to_owned()))
    }

    /// Whether `method` matches (privilege is not considered here).
    pub fn matches(&self, method: &str) -> bool {
        match self {
            MethodPattern::Exact(name) => name == method,
            MethodPattern::Namespace(namespace) => {
                method.len() > namespace.len() + 1
                    && method.starts_with(namespace.as_str())
                    && method.as_bytes()[namespace.len()] == b'.'
            }
            MethodPattern::Any => true,
        }
    }
}

impl fmt::Display for MethodPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MethodPattern::Exact(name) => f.write_str(name),
            MethodPattern::Namespace(namespace) => write!(f, "{namespace}.*"),
            MethodPattern::Any => f.write_str("*"),
        }
    }
}

/// Dot-separated words of ASCII letters, digits and `_`, at most [`MAX_METHOD_NAME_BYTES`].
fn is_well_formed(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_METHOD_NAME_BYTES
        && name.split('.').all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// Params by name, as a JSON object.
pub type Params = serde_json::Map<String, Value>;

/// One entry of the `sidecar:allow-call` scope, as written in a capability or a
/// permission file: `{"method": "db.query"}`, `{"method": "jobs.*"}`, optionally with
/// pinned params: `{"method": "db.query", "params": {"allow_write": false}}` (in an
/// allow entry: those members are forced on every call it grants; a deny entry
/// denies the method whatever its params say).
///
/// An invalid pattern or an unknown member fails to deserialize, so Tauri refuses
/// the command with that message instead of guessing what was meant.
///
/// ```
/// use sidecar_host::policy::MethodRule;
/// let rule: MethodRule = serde_json::from_str(r#"{"method": "jobs.*"}"#).unwrap();
/// assert!(rule.pattern().matches("jobs.list"));
/// assert!(serde_json::from_str::<MethodRule>(r#"{"method": "jobs*"}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRule", into = "RawRule")]
pub struct MethodRule {
    pattern: MethodPattern,
    pinned: Option<Params>,
}

impl MethodRule {
    /// A rule from a pattern (`db.query`, `jobs.*`, `*`).
    pub fn new(pattern: &str) -> Result<MethodRule, InvalidRule> {
        MethodPattern::parse(pattern).map(|pattern| MethodRule { pattern, pinned: None })
    }

    /// The same rule, forcing these params on the calls it grants.
    pub fn pinning(mut self, params: Params) -> Self {
        self.pinned = Some(params);
        self
    }

    /// What the rule matches.
    pub fn pattern(&self) -> &MethodPattern {
        &self.pattern
    }

    /// The params it forces, if any.
    pub fn pinned(&self) -> Option<&Params> {
        self.pinned.as_ref()
    }
}

/// The wire form of a [`MethodRule`].
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    params: Option<Params>,
}

impl TryFrom<RawRule> for MethodRule {
    type Error = InvalidRule;
    fn try_from(raw: RawRule) -> Result<Self, Self::Error> {
        let rule = MethodRule::new(&raw.method)?;
        Ok(match raw.params {
            Some(params) => rule.pinning(params),
            None => rule,
        })
    }
}

impl From<MethodRule> for RawRule {
    fn from(rule: MethodRule) -> Self {
        RawRule { method: rule.pattern.to_string(), params: rule.pinned }
    }
}

/// A granted call: what to forward.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Permit {
    /// Params forced on the call (`None`: forward the params as sent).
    pub pinned: Option<Params>,
}

/// Params that cannot carry the pinned members (positional, or not structured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpinnableParams;

impl fmt::Display for UnpinnableParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("this method is granted with pinned params: pass params by name (a JSON object)")
    }
}

impl std::error::Error for UnpinnableParams {}

impl Permit {
    /// The params to forward: `params` with the pinned members forced.
    pub fn apply(&self, params: Option<Value>) -> Result<Option<Value>, UnpinnableParams> {
        let Some(pinned) = &self.pinned else { return Ok(params) };
        let mut object = match params {
            None | Some(Value::Null) => Params::new(),
            Some(Value::Object(object)) => object,
            Some(_) => return Err(UnpinnableParams),
        };
        for (name, value) in pinned {
            object.insert(name.clone(), value.clone());
        }
        Ok(Some(Value::Object(object)))
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No allow rule matches (or none was given: deny by default).
    NotGranted,
    /// A deny rule matches.
    Denied,
    /// The method is the host's only; no rule can grant it.
    Privileged,
    /// Not a method name at all (empty, too long, odd characters).
    Malformed,
}

impl Refusal {
    /// A stable name for logs and errors (`not_granted`, `denied`, `privileged`, `malformed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotGranted => "not_granted",
            Refusal::Denied => "denied",
            Refusal::Privileged => "privileged",
            Refusal::Malformed => "malformed",
        }
    }

    /// A sentence for people, about `method`.
    pub fn explain(self, method: &str) -> String {
        match self {
            Refusal::NotGranted => format!(
                "{method:?} is not granted to this window: add it to the allow-list of the sidecar:allow-call permission in the window's capability"
            ),
            Refusal::Denied => format!("{method:?} is denied to this window by its capability"),
            Refusal::Privileged => format!(
                "{method:?} is privileged: only the host's own Rust code may call it, whatever a capability lists"
            ),
            Refusal::Malformed => {
                format!("{method:?} is not a method name (dot-separated words of letters, digits and \"_\")")
            }
        }
    }
}

/// The set of privileged methods: the fixed ones plus those discovery marked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Privileged {
    discovered: BTreeSet<String>,
}

impl Privileged {
    /// Only the fixed list ([`PRIVILEGED_METHODS`], [`PRIVILEGED_NAMESPACES`]).
    pub fn fixed() -> Self {
        Self::default()
    }

    /// The fixed list plus these names (e.g. from [`privileged_in_discovery`]).
    pub fn with(discovered: impl IntoIterator<Item = String>) -> Self {
        Privileged { discovered: discovered.into_iter().collect() }
    }

    /// Whether `method` is the host's only.
    pub fn contains(&self, method: &str) -> bool {
        PRIVILEGED_METHODS.contains(&method)
            || PRIVILEGED_NAMESPACES
                .iter()
                .any(|ns| method.strip_prefix(ns).is_some_and(|rest| rest.len() > 1 && rest.starts_with('.')))
            || self.discovered.contains(method)
    }

    /// The names discovery added.
    pub fn discovered(&self) -> &BTreeSet<String> {
        &self.discovered
    }
}

/// The methods an OpenRPC document from `rpc.discover` marks as the host's only
/// (a method object with one of [`DISCOVERY_PRIVILEGE_MARKERS`] set to `true`).
pub fn privileged_in_discovery(doc: &Value) -> BTreeSet<String> {
    let Some(methods) = doc.get("methods").and_then(Value::as_array) else { return BTreeSet::new() };
    methods
        .iter()
        .filter(|m| DISCOVERY_PRIVILEGE_MARKERS.iter().any(|key| m.get(key) == Some(&Value::Bool(true))))
        .filter_map(|m| m.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// Decides one caller's calls: allow rules, deny rules, the privileged set.
///
/// ```
/// use sidecar_host::policy::{MethodPolicy, MethodRule, Privileged, Refusal};
/// let allow = [MethodRule::new("db.query").unwrap(), MethodRule::new("jobs.*").unwrap()];
/// let policy = MethodPolicy::new(allow, [], Privileged::fixed());
/// assert!(policy.decide("jobs.list").is_ok());
/// assert_eq!(policy.decide("db.export"), Err(Refusal::NotGranted));
/// assert_eq!(policy.decide("system.shutdown"), Err(Refusal::Privileged));
/// ```
#[derive(Debug, Clone)]
pub struct MethodPolicy {
    allow: Vec<MethodRule>,
    deny: Vec<MethodPattern>,
    privileged: Privileged,
}

impl MethodPolicy {
    /// A policy from the allow and deny rules a caller was granted.
    pub fn new(
        allow: impl IntoIterator<Item = MethodRule>,
        deny: impl IntoIterator<Item = MethodRule>,
        privileged: Privileged,
    ) -> Self {
        MethodPolicy {
            allow: allow.into_iter().collect(),
            deny: deny.into_iter().map(|r| r.pattern).collect(),
            privileged,
        }
    }

    /// The [`Permit`] if `method` may be called, else why not. Checked in this order:
    /// malformed, privileged, denied, not granted. When several allow rules match, the
    /// widest wins: none of them pins params if one does not, else the first one's pins.
    pub fn decide(&self, method: &str) -> Result<Permit, Refusal> {
        if !is_well_formed(method) {
            return Err(Refusal::Malformed);
        }
        if self.privileged.contains(method) {
            return Err(Refusal::Privileged);
        }
        if self.deny.iter().any(|p| p.matches(method)) {
            return Err(Refusal::Denied);
        }
        let mut matching = self.allow.iter().filter(|rule| rule.pattern.matches(method)).peekable();
        let first = matching.peek().copied().ok_or(Refusal::NotGranted)?;
        if matching.any(|rule| rule.pinned.is_none()) {
            return Ok(Permit::default());
        }
        Ok(Permit { pinned: first.pinned.clone() })
    }

    /// The allow rules, for logs.
    pub fn allowed(&self) -> &[MethodRule] {
        &self.allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(patterns: &[&str]) -> Vec<MethodRule> {
        patterns.iter().map(|p| MethodRule::new(p).unwrap()).collect()
    }

    fn policy(allow: &[&str], deny: &[&str]) -> MethodPolicy {
        MethodPolicy::new(rules(allow), rules(deny), Privileged::fixed())
    }

    #[test]
    fn deny_by_default() {
        let nothing = policy(&[], &[]);
        for method in ["system.ping", "db.query", "jobs.list", "rpc.discover"] {
            assert_eq!(nothing.decide(method), Err(Refusal::NotGranted), "{method}");
        }
    }

    #[test]
    fn exact_names_match_only_themselves() {
        let p = policy(&["db.query"], &[]);
        assert!(p.decide("db.query").is_ok());
        for other in ["db.query2", "db.quer", "db", "db.query.x", "xdb.query", "DB.QUERY", "db.export"] {
            assert!(p.decide(other).is_err(), "{other}");
        }
    }

    #[test]
    fn a_namespace_wildcard_matches_its_methods_and_nothing_beside() {
        let p = policy(&["jobs.*"], &[]);
        for method in ["jobs.list", "jobs.get", "jobs.submit", "jobs.cancel", "jobs.events", "jobs.a.b"] {
            assert!(p.decide(method).is_ok(), "{method}");
        }
        for other in ["jobs", "jobsx.list", "job.list", "db.query", "runs.list"] {
            assert_eq!(p.decide(other), Err(Refusal::NotGranted), "{other}");
        }
        // "jobs." itself is no method name.
        assert_eq!(p.decide("jobs."), Err(Refusal::Malformed));
    }

    #[test]
    fn privileged_methods_are_never_matched() {
        // Not by a namespace wildcard, not by "*", not even by their exact name.
        let every_way = policy(
            &[
                "*",
                "system.*",
                "secrets.*",
                "files.*",
                "rpc.*",
                "test.*",
                "testing.*",
                "system.shutdown",
                "secrets.get",
                "files.grant",
                "files.revoke",
                "rpc.cancel",
                "test.echo",
            ],
            &[],
        );
        for method in [
            "system.shutdown",
            "secrets.get",
            "files.grant",
            "files.revoke",
            "rpc.cancel",
            "test.echo",
            "test.notify",
            "test.crash",
            "testing.anything",
        ] {
            assert_eq!(every_way.decide(method), Err(Refusal::Privileged), "{method}");
        }
        // Their neighbours stay grantable.
        for method in ["system.ping", "system.status", "secrets.list", "secrets.set", "files.grants", "rpc.discover"] {
            assert!(every_way.decide(method).is_ok(), "{method}");
        }
    }

    #[test]
    fn discovery_adds_privileged_methods() {
        let doc = serde_json::json!({"methods": [
            {"name": "system.ping"},
            {"name": "engine.reset", "x-host-only": true},
            {"name": "files.forget", "x-privileged": true},
            {"name": "db.query", "x-host-only": false},
        ]});
        let found = privileged_in_discovery(&doc);
        assert_eq!(found.iter().map(String::as_str).collect::<Vec<_>>(), ["engine.reset", "files.forget"]);
        let p = MethodPolicy::new(rules(&["*"]), [], Privileged::with(found));
        assert_eq!(p.decide("engine.reset"), Err(Refusal::Privileged));
        assert_eq!(p.decide("files.forget"), Err(Refusal::Privileged));
        assert!(p.decide("db.query").is_ok());
        assert!(privileged_in_discovery(&serde_json::json!({"no": "methods"})).is_empty());
    }

    #[test]
    fn deny_rules_beat_allow_rules() {
        let p = policy(&["db.*"], &["db.export"]);
        assert!(p.decide("db.query").is_ok());
        assert_eq!(p.decide("db.export"), Err(Refusal::Denied));
        let p = policy(&["db.query"], &["db.*"]);
        assert_eq!(p.decide("db.query"), Err(Refusal::Denied));
    }

    #[test]
    fn malformed_names_are_refused_before_anything_else() {
        let p = policy(&["*"], &[]);
        let long = format!("a.{}", "b".repeat(MAX_METHOD_NAME_BYTES));
        for method in
            ["", " ", "db.query ", " db.query", "db..query", ".db", "db.", "db/query", "db.qu\0ery", "dé.query", &long]
        {
            assert_eq!(p.decide(method), Err(Refusal::Malformed), "{method:?}");
        }
    }

    #[test]
    fn rules_parse_from_capability_json_and_refuse_odd_patterns() {
        let rule: MethodRule = serde_json::from_str(r#"{"method": "db.query"}"#).unwrap();
        assert_eq!(rule.pattern(), &MethodPattern::Exact("db.query".into()));
        let rule: MethodRule = serde_json::from_str(r#"{"method": "jobs.*"}"#).unwrap();
        assert_eq!(rule.pattern(), &MethodPattern::Namespace("jobs".into()));
        assert_eq!(serde_json::to_string(&rule).unwrap(), r#"{"method":"jobs.*"}"#);
        for bad in [
            r#"{"method": "jobs*"}"#,
            r#"{"method": "*.list"}"#,
            r#"{"method": "db.*.x"}"#,
            r#"{"method": "db"}"#,
            r#"{"method": ""}"#,
            r#"{"method": ".*"}"#,
            r#"{"method": "db.query", "params": [1]}"#,
            r#"{"method": "db.query", "extra": 1}"#,
            r#"{"methods": ["db.query"]}"#,
            r#""db.query""#,
        ] {
            assert!(serde_json::from_str::<MethodRule>(bad).is_err(), "{bad}");
        }
        let err = MethodRule::new("db.q*").unwrap_err();
        assert!(err.to_string().contains("\"db.q*\""), "{err}");
    }

    #[test]
    fn pinned_params_are_forced_on_the_call() {
        let read_only: MethodRule =
            serde_json::from_str(r#"{"method": "db.query", "params": {"allow_write": false}}"#).unwrap();
        assert_eq!(serde_json::to_value(&read_only).unwrap()["params"]["allow_write"], false);
        let p = MethodPolicy::new([read_only.clone()], [], Privileged::fixed());
        let permit = p.decide("db.query").unwrap();
        let sent = serde_json::json!({"sql": "CREATE TABLE t(x INT)", "allow_write": true});
        let forwarded = permit.apply(Some(sent)).unwrap().unwrap();
        assert_eq!(forwarded, serde_json::json!({"sql": "CREATE TABLE t(x INT)", "allow_write": false}));
        assert_eq!(permit.apply(None).unwrap().unwrap(), serde_json::json!({"allow_write": false}));
        // Positional params would slip past the pin: refused.
        assert_eq!(
            permit.apply(Some(serde_json::json!(["CREATE TABLE t(x INT)", null, null, null, true]))),
            Err(UnpinnableParams)
        );
        // A second grant of the same method without pins is the wider one.
        let wide = MethodPolicy::new([read_only, MethodRule::new("db.*").unwrap()], [], Privileged::fixed());
        let permit = wide.decide("db.query").unwrap();
        assert_eq!(permit.pinned, None);
        assert_eq!(permit.apply(Some(serde_json::json!([1]))).unwrap(), Some(serde_json::json!([1])));
    }

    #[test]
    fn refusals_have_stable_names_and_say_what_to_do() {
        assert_eq!(Refusal::NotGranted.as_str(), "not_granted");
        assert_eq!(serde_json::to_string(&Refusal::Privileged).unwrap(), "\"privileged\"");
        assert!(Refusal::NotGranted.explain("db.export").contains("allow-list"));
        assert!(Refusal::Privileged.explain("secrets.get").contains("host"));
    }
}
