//! Replacing the launcher with the unpacked program (same PID, no fork).

use crate::error::Failure;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

/// execve `<folder>/<exe>`; returns only if the exec failed.
///
/// argv[0] is the program's full path and our own arguments follow as raw
/// OsStrings. cwd and stdio are inherited untouched; the environment gains
/// the two SIDECAR_LAUNCHER_* variables so the engine can find its folder
/// and the file it was launched from.
pub fn exec_program(folder: &Path, exe: &str, launcher: &Path) -> Failure {
    let program = folder.join(exe);
    let err = Command::new(&program)
        .arg0(&program)
        .args(std::env::args_os().skip(1))
        .env("SIDECAR_LAUNCHER_DIR", folder)
        .env("SIDECAR_LAUNCHER_EXE", launcher)
        .exec();
    Failure::damaged(format!("cannot exec {}: {err}", program.display()))
}
