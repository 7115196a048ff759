//! The warm-path check: is the cache folder a complete unpack of this payload?
//!
//! It must stay cheap (it runs on every launch): one small read and one
//! lstat per file, never reading or hashing file contents.

use crate::meta::Meta;
use std::path::Path;

pub const COMPLETE_MARKER: &str = ".complete";

/// Valid when `.complete` names this payload and every file has its packed size.
pub fn is_valid(folder: &Path, meta: &Meta) -> bool {
    complete_matches(folder, &meta.payload_sha256) && files_match(folder, &meta.files)
}

/// `.complete` is written last, just before the rename, so its presence with
/// our hash means the unpack of this very payload ran to the end.
fn complete_matches(folder: &Path, sha256: &str) -> bool {
    match std::fs::read(folder.join(COMPLETE_MARKER)) {
        Ok(content) => marker_matches(&content, sha256),
        Err(_) => false,
    }
}

/// The hash, optionally followed by one newline.
pub fn marker_matches(content: &[u8], sha256: &str) -> bool {
    let content = content.strip_suffix(b"\n").unwrap_or(content);
    content == sha256.as_bytes()
}

/// Catches deleted and truncated files (the usual damage: a cleaner, a full
/// disk during an old unpack) without reading them. lstat: a symlink where a
/// regular file belongs is damage too.
fn files_match(folder: &Path, files: &[(String, u64)]) -> bool {
    files.iter().all(
        |(rel, size)| match std::fs::symlink_metadata(folder.join(rel)) {
            Ok(md) => md.file_type().is_file() && md.len() == *size,
            Err(_) => false,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::path::PathBuf;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// A fresh scratch folder per test (std only: no tempfile crate).
    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sidecar-launcher-warm-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("lib")).unwrap();
        fs::write(dir.join("app"), b"12345").unwrap();
        fs::write(dir.join("lib/x.so"), b"").unwrap();
        fs::write(dir.join(COMPLETE_MARKER), format!("{SHA}\n")).unwrap();
        dir
    }

    fn meta() -> Meta {
        Meta {
            app_name: "A".into(),
            folder: "v".into(),
            exe: "app".into(),
            payload_sha256: SHA.into(),
            files: vec![("app".into(), 5), ("lib/x.so".into(), 0)],
        }
    }

    #[test]
    fn marker_content_rules() {
        assert!(marker_matches(SHA.as_bytes(), SHA));
        assert!(marker_matches(format!("{SHA}\n").as_bytes(), SHA));
        assert!(!marker_matches(format!("{SHA}\n\n").as_bytes(), SHA));
        assert!(!marker_matches(format!(" {SHA}").as_bytes(), SHA));
        assert!(!marker_matches(b"", SHA));
        assert!(!marker_matches(&SHA.as_bytes()[..63], SHA));
    }

    #[test]
    fn complete_folder_is_valid() {
        let dir = scratch("ok");
        assert!(is_valid(&dir, &meta()));
        // Extra files (logs, caches the program writes) do not matter.
        fs::write(dir.join("extra"), b"x").unwrap();
        assert!(is_valid(&dir, &meta()));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_folder_is_invalid() {
        assert!(!is_valid(
            Path::new("/nonexistent/sidecar-launcher-test"),
            &meta()
        ));
    }

    #[test]
    fn missing_or_other_marker_is_invalid() {
        let dir = scratch("marker");
        fs::write(dir.join(COMPLETE_MARKER), "f".repeat(64)).unwrap();
        assert!(!is_valid(&dir, &meta()));
        fs::remove_file(dir.join(COMPLETE_MARKER)).unwrap();
        assert!(!is_valid(&dir, &meta()));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn deleted_truncated_or_replaced_file_is_invalid() {
        let dir = scratch("files");
        fs::remove_file(dir.join("lib/x.so")).unwrap();
        assert!(!is_valid(&dir, &meta()));
        fs::write(dir.join("lib/x.so"), b"").unwrap();
        fs::write(dir.join("app"), b"123").unwrap();
        assert!(!is_valid(&dir, &meta()));
        // A symlink to a file of the right size is still not what we unpacked.
        fs::write(dir.join("real"), b"12345").unwrap();
        fs::remove_file(dir.join("app")).unwrap();
        std::os::unix::fs::symlink("real", dir.join("app")).unwrap();
        assert!(!is_valid(&dir, &meta()));
        // A directory in a file's place.
        fs::remove_file(dir.join("app")).unwrap();
        fs::create_dir(dir.join("app")).unwrap();
        assert!(!is_valid(&dir, &meta()));
        fs::remove_dir_all(&dir).unwrap();
    }
}
