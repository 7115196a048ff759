//! The host key: a fresh random secret per spawned process, handed to the
//! sidecar in its environment ([`HOST_KEY_ENV`]) and added by the host to the
//! params of host-only methods (`files.grant`, `files.revoke`, `secrets.get`).
//! The sidecar refuses those methods without it (`host_only`), so a caller that
//! reaches the sidecar's stdin by some other path than the host's own code (a
//! webview through a too-wide capability, a bug in a command) still cannot use them.
//!
//! The key never leaves the host process except into the child's environment:
//! its `Debug` is redacted, it is never logged, and [`HostKey::scrub`] replaces it
//! in everything the host passes on (stderr lines, errors, results, notifications),
//! should the sidecar ever print it.

use std::borrow::Cow;
use std::fmt;

/// The environment variable that carries the key to the sidecar.
pub const HOST_KEY_ENV: &str = "SIDECAR_HOST_KEY";
/// The params member the host adds to host-only calls.
pub const HOST_KEY_PARAM: &str = "host_key";
/// Random bytes in a key (written as twice as many hex digits).
pub const HOST_KEY_BYTES: usize = 32;
/// What stands in for the key wherever it is scrubbed.
pub const HOST_KEY_MASK: &str = "***";

/// A host key (64 lowercase hex digits). Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct HostKey(String);

impl HostKey {
    /// A fresh key from the OS's random source.
    pub(crate) fn generate() -> std::io::Result<HostKey> {
        let mut bytes = [0u8; HOST_KEY_BYTES];
        getrandom::fill(&mut bytes)
            .map_err(|e| std::io::Error::other(format!("no random bytes for the host key: {e}")))?;
        Ok(HostKey(hex(&bytes)))
    }

    /// The key's text (for the child's environment and the params of host-only calls only).
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key replaced by [`HOST_KEY_MASK`].
    pub(crate) fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if text.contains(self.0.as_str()) {
            Cow::Owned(text.replace(self.0.as_str(), HOST_KEY_MASK))
        } else {
            Cow::Borrowed(text)
        }
    }
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostKey(***)")
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_64_hex_digits_and_fresh_each_time() {
        let a = HostKey::generate().unwrap();
        let b = HostKey::generate().unwrap();
        assert_eq!(a.expose().len(), 2 * HOST_KEY_BYTES);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = HostKey::generate().unwrap();
        let shown = format!("{key:?} {:?}", Some(key.clone()));
        assert!(!shown.contains(key.expose()), "{shown}");
        assert!(shown.contains("HostKey(***)"));
    }

    #[test]
    fn scrub_replaces_every_occurrence() {
        let key = HostKey::generate().unwrap();
        let text = format!("{{\"host_key\":\"{}\",\"again\":\"x{}x\"}}", key.expose(), key.expose());
        let clean = key.scrub(&text);
        assert!(!clean.contains(key.expose()));
        assert_eq!(clean, "{\"host_key\":\"***\",\"again\":\"x***x\"}");
        assert!(matches!(key.scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn hex_digits() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    }
}
