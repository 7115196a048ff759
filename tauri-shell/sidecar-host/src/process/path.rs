//! Finding the sidecar executable the way Tauri does for `bundle.externalBin`.
//!
//! At bundle time Tauri copies `binaries/<name>-<target-triple>` next to the
//! app executable as `<name>` (`<name>.exe` on Windows); at run time the path
//! is the directory of the current executable (symlinks resolved) joined with
//! that name. During `tauri dev`/`cargo build` the same copy is placed in the
//! target dir beside the app binary, so the rule holds there too.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the sidecar named `name` sits for the running executable:
/// `<dir of current exe, symlinks resolved>/<name>[.exe]`.
///
/// ```
/// let path = sidecar_host::sidecar_path_beside_current_exe("sidecar").unwrap();
/// assert!(path.ends_with(format!("sidecar{}", std::env::consts::EXE_SUFFIX)));
/// ```
pub fn sidecar_path_beside_current_exe(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| Error::SpawnFailed {
        path: PathBuf::from(name),
        reason: format!("cannot find the current executable: {e}"),
    })?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    let dir = exe.parent().unwrap_or_else(|| Path::new("."));
    Ok(sidecar_path_in(dir, name))
}

/// `<dir>/<name>` plus the platform's executable suffix.
pub fn sidecar_path_in(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The externalBin source file name for a target triple: `<name>-<triple>[.exe]`.
pub fn external_bin_file_name(name: &str, target_triple: &str) -> String {
    let suffix = if target_triple.contains("windows") { ".exe" } else { "" };
    format!("{name}-{target_triple}{suffix}")
}

/// Fail early, naming the path, when `program` cannot be run.
///
/// A program with a path separator must exist, be a file and (on Unix) be
/// executable; a bare name must be found on `PATH`.
pub fn check_executable(program: &Path) -> Result<PathBuf> {
    let not_found =
        |path: &Path, reason: &str| Error::BinaryNotFound { path: path.to_owned(), reason: reason.to_owned() };
    if program.components().count() > 1 || program.is_absolute() {
        let absolute = std::path::absolute(program).unwrap_or_else(|_| program.to_owned());
        let meta = std::fs::metadata(&absolute).map_err(|_| not_found(&absolute, "no such file"))?;
        if !meta.is_file() {
            return Err(not_found(&absolute, "not a file"));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o111 == 0 {
                return Err(not_found(&absolute, "not executable"));
            }
        }
        return Ok(absolute);
    }
    let paths = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&paths) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(not_found(program, "not found on PATH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_bin_names() {
        assert_eq!(external_bin_file_name("sidecar", "x86_64-unknown-linux-gnu"), "sidecar-x86_64-unknown-linux-gnu");
        assert_eq!(external_bin_file_name("sidecar", "x86_64-pc-windows-msvc"), "sidecar-x86_64-pc-windows-msvc.exe");
    }

    #[test]
    fn missing_binary_names_the_absolute_path() {
        let err = check_executable(Path::new("no/such/sidecar")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("no/such/sidecar") && text.contains("no such file"), "{text}");
        match err {
            Error::BinaryNotFound { path, .. } => assert!(path.is_absolute()),
            other => panic!("{other:?}"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_without_exec_bit_is_refused() {
        let path = std::env::temp_dir().join(format!("sidecar-host-noexec-{}", std::process::id()));
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        let err = check_executable(&path).unwrap_err();
        assert!(err.to_string().contains("not executable"), "{err}");
        std::fs::remove_file(path).unwrap();
    }
}
