//! The meta JSON stored before the trailer, and the checks on its names.

use crate::error::Failure;
use crate::paths::{is_safe_relative, is_single_component};
use serde::Deserialize;

pub const FORMAT: u64 = 1;

#[derive(Debug, Deserialize)]
pub struct Meta {
    pub app_name: String,
    pub folder: String,
    /// Relative path inside the tree of the program to exec.
    pub exe: String,
    /// Lowercase hex SHA-256 of the payload bytes; also the `.complete` content.
    pub payload_sha256: String,
    /// Every regular file of the tree with its size: the warm-path check.
    pub files: Vec<(String, u64)>,
}

/// Parse and validate; every failure is "damaged binary" (status 7).
pub fn parse(bytes: &[u8]) -> Result<Meta, Failure> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Failure::damaged(format!("the launcher's meta is not valid JSON: {e}")))?;
    // Check the format first so a future format gets a clear message, not "missing field".
    match value.get("format").and_then(|f| f.as_u64()) {
        Some(FORMAT) => {}
        other => {
            return Err(Failure::damaged(format!(
                "the launcher's meta has format {}, this launcher reads format {FORMAT}",
                other.map_or_else(|| "(none)".to_string(), |f| f.to_string())
            )))
        }
    }
    let meta: Meta = serde_json::from_value(value)
        .map_err(|e| Failure::damaged(format!("the launcher's meta is malformed: {e}")))?;
    validate(&meta)?;
    Ok(meta)
}

/// One meta field, its value, and the rule it must satisfy.
type FieldCheck<'a> = (&'static str, &'a str, fn(&str) -> bool);

/// The names end up in paths we create, stat and exec: keep them inside the cache folder.
fn validate(meta: &Meta) -> Result<(), Failure> {
    let fields: [FieldCheck; 4] = [
        ("app_name", &meta.app_name, is_single_component),
        ("folder", &meta.folder, is_single_component),
        ("exe", &meta.exe, is_safe_relative),
        ("payload_sha256", &meta.payload_sha256, is_sha256_hex),
    ];
    let files = meta
        .files
        .iter()
        .map(|(path, _)| -> FieldCheck { ("file path", path, is_safe_relative) });
    match fields
        .into_iter()
        .chain(files)
        .find(|(_, value, ok)| !ok(value))
    {
        Some((field, value, _)) => Err(Failure::damaged(format!(
            "bad {field} in the launcher's meta: {value:?}"
        ))),
        None => Ok(()),
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::STATUS_DAMAGED;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn json(app: &str, folder: &str, exe: &str, files: &str) -> String {
        format!(
            r#"{{"format":1,"app_name":{app:?},"folder":{folder:?},"exe":{exe:?},"payload_sha256":"{SHA}","files":{files}}}"#
        )
    }

    fn err(bytes: &str) -> String {
        let f = parse(bytes.as_bytes()).unwrap_err();
        assert_eq!(f.status, STATUS_DAMAGED);
        f.msg
    }

    #[test]
    fn parses_valid_meta() {
        let m =
            parse(json("App", "v1", "bin/app", r#"[["bin/app",12],["lib/x.so",0]]"#).as_bytes())
                .unwrap();
        assert_eq!(m.app_name, "App");
        assert_eq!(m.folder, "v1");
        assert_eq!(m.exe, "bin/app");
        assert_eq!(m.payload_sha256, SHA);
        assert_eq!(
            m.files,
            vec![("bin/app".to_string(), 12), ("lib/x.so".to_string(), 0)]
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let j =
            json("App", "v1", "app", "[]").replace(r#""format":1,"#, r#""format":1,"extra":true,"#);
        assert!(parse(j.as_bytes()).is_ok());
    }

    #[test]
    fn rejects_non_json() {
        assert!(err("not json").contains("not valid JSON"));
        assert!(err("").contains("not valid JSON"));
    }

    #[test]
    fn rejects_wrong_or_missing_format() {
        assert!(
            err(&json("A", "v", "e", "[]").replace(r#""format":1"#, r#""format":2"#))
                .contains("format 2")
        );
        assert!(err(r#"{"app_name":"A"}"#).contains("format (none)"));
        assert!(err(r#"[1,2]"#).contains("format (none)"));
    }

    #[test]
    fn rejects_missing_fields_and_bad_types() {
        assert!(err(r#"{"format":1,"app_name":"A"}"#).contains("malformed"));
        assert!(err(&json("A", "v", "e", r#"[["x","12"]]"#)).contains("malformed"));
    }

    #[test]
    fn rejects_bad_names() {
        assert!(err(&json("../x", "v", "e", "[]")).contains("app_name"));
        assert!(err(&json("a/b", "v", "e", "[]")).contains("app_name"));
        assert!(err(&json("A", "..", "e", "[]")).contains("folder"));
        assert!(err(&json("A", "", "e", "[]")).contains("folder"));
        assert!(err(&json("A", "v", "/bin/sh", "[]")).contains("exe"));
        assert!(err(&json("A", "v", "a/../../b", "[]")).contains("exe"));
        assert!(err(&json("A", "v", "e", r#"[["../etc/passwd",1]]"#)).contains("file path"));
    }

    #[test]
    fn rejects_bad_sha() {
        let j = json("A", "v", "e", "[]").replace(SHA, "ABC");
        assert!(err(&j).contains("payload_sha256"));
        let j = json("A", "v", "e", "[]").replace(SHA, &SHA.to_uppercase());
        assert!(err(&j).contains("payload_sha256"));
    }
}
