//! sidecar-launcher: an exec-style replacement for Nuitka's onefile bootstrap.
//!
//! The shipped file is `[this executable][zstd tar payload][meta JSON][trailer]`.
//! On launch we check the unpacked cache folder cheaply (sizes only, no
//! hashing) and execve the program inside it, keeping our PID. Only the
//! first launch, or one after the folder was damaged, unpacks the payload.
//!
//! The launcher never writes to stdout: stdout belongs to the engine's wire
//! protocol. Failures are one JSON line on stderr and exit status 4 or 7.

#[cfg(not(unix))]
compile_error!(
    "sidecar-launcher is Unix-only (Linux and macOS); Windows builds keep Nuitka's own onefile bootstrap"
);

mod error;
mod exec;
mod install;
mod meta;
mod paths;
mod selfexe;
mod trailer;
mod unpack;
mod warm;

use error::Failure;
use std::fs::File;

fn main() {
    // `run` only returns on failure: success replaces this process image.
    let failure = run();
    failure.report();
    std::process::exit(failure.status);
}

/// Locate the payload, make sure the cache folder is valid, exec the program.
fn run() -> Failure {
    match prepare() {
        Ok((folder, exe, launcher)) => exec::exec_program(&folder, &exe, &launcher),
        Err(failure) => failure,
    }
}

/// Everything up to the exec: returns (cache folder, exe relpath, own path).
fn prepare() -> Result<(std::path::PathBuf, String, std::path::PathBuf), Failure> {
    let launcher = std::env::current_exe().map_err(|e| {
        Failure::damaged(format!("cannot locate the launcher's own executable: {e}"))
    })?;
    let file = File::open(&launcher).map_err(|e| {
        Failure::damaged(format!(
            "cannot open the launcher's own executable {}: {e}",
            launcher.display()
        ))
    })?;
    let layout = selfexe::read_layout(&file, &launcher)?;
    let meta = selfexe::read_meta(&file, &layout)?;
    let folder = paths::cache_folder(&meta.app_name, &meta.folder)?;
    // Warm path: a handful of stats, no payload read, no hashing.
    if !warm::is_valid(&folder, &meta) {
        install::install(&file, &layout, &meta, &folder)?;
    }
    Ok((folder, meta.exe, launcher))
}
