//! Path rules: which names the meta may carry, and where the cache folder is.

use crate::error::Failure;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `app_name` and `folder` must be exactly one path component, so that
/// `<cache>/<app_name>/sidecar/<folder>` cannot point anywhere else.
pub fn is_single_component(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains('/') && !name.contains('\0')
}

/// A path inside the unpacked tree: relative, no `..`, no empty or `.` parts
/// (the packer writes clean paths, so anything else means a foreign build).
pub fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// `$XDG_CACHE_HOME` if set and absolute, else `$HOME/.cache`: the same
/// folder Nuitka's `{CACHE_DIR}` resolves to on Linux (kept on macOS too).
pub fn cache_root(xdg_cache_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    if let Some(xdg) = xdg_cache_home.map(PathBuf::from) {
        if xdg.is_absolute() {
            return Some(xdg);
        }
    }
    let home = PathBuf::from(home?);
    // A relative HOME would make the cache depend on the cwd: refuse it.
    home.is_absolute().then(|| home.join(".cache"))
}

/// `<cache>/<app_name>/sidecar/<folder>`, from the process environment.
pub fn cache_folder(app_name: &str, folder: &str) -> Result<PathBuf, Failure> {
    let root = cache_root(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
        .ok_or_else(|| {
            Failure::cache(
                "no cache location: neither an absolute XDG_CACHE_HOME nor an absolute HOME is set",
            )
        })?;
    Ok(folder_under(&root, app_name, folder))
}

pub fn folder_under(root: &Path, app_name: &str, folder: &str) -> PathBuf {
    root.join(app_name).join("sidecar").join(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> Option<OsString> {
        Some(OsString::from(s))
    }

    #[test]
    fn single_components() {
        for good in ["app", "sidecar-1.2.3", "a b", ".hidden", "..x"] {
            assert!(is_single_component(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "/a", "a/", "a\0b"] {
            assert!(!is_single_component(bad), "{bad:?}");
        }
    }

    #[test]
    fn safe_relative_paths() {
        for good in ["sidecar", "bin/sidecar", "a/b/c.so", "..x/y", "x../y"] {
            assert!(is_safe_relative(good), "{good}");
        }
        for bad in [
            "", "/bin/sh", "../x", "a/../b", "a/..", "./a", "a//b", "a/", "a/./b", "a\0",
        ] {
            assert!(!is_safe_relative(bad), "{bad:?}");
        }
    }

    #[test]
    fn xdg_wins_when_absolute() {
        assert_eq!(
            cache_root(os("/x/cache"), os("/home/u")),
            Some(PathBuf::from("/x/cache"))
        );
    }

    #[test]
    fn relative_or_empty_xdg_falls_back_to_home() {
        assert_eq!(
            cache_root(os("rel/cache"), os("/home/u")),
            Some(PathBuf::from("/home/u/.cache"))
        );
        assert_eq!(
            cache_root(os(""), os("/home/u")),
            Some(PathBuf::from("/home/u/.cache"))
        );
        assert_eq!(
            cache_root(None, os("/home/u")),
            Some(PathBuf::from("/home/u/.cache"))
        );
    }

    #[test]
    fn no_location_without_absolute_home() {
        assert_eq!(cache_root(None, None), None);
        assert_eq!(cache_root(os("rel"), None), None);
        assert_eq!(cache_root(None, os("")), None);
        assert_eq!(cache_root(None, os("relhome")), None);
    }

    #[test]
    fn folder_layout() {
        assert_eq!(
            folder_under(Path::new("/c"), "App", "v1"),
            PathBuf::from("/c/App/sidecar/v1")
        );
    }
}
