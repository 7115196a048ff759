//! The cold path: unpack into a private tmp sibling, mark it complete, and
//! rename it into place, tolerating other launchers racing us.

use crate::error::Failure;
use crate::meta::Meta;
use crate::trailer::Layout;
use crate::{unpack, warm};
use std::fs::{self, DirBuilder, File};
use std::io::{self, Write};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Renames we retry when other launchers keep swapping the final folder.
const PUBLISH_ATTEMPTS: usize = 8;

/// Make `final_dir` a valid unpack of the payload.
pub fn install(file: &File, layout: &Layout, meta: &Meta, final_dir: &Path) -> Result<(), Failure> {
    let parent = final_dir
        .parent()
        .expect("the cache folder always has a parent");
    create_private_dirs(parent)?;
    let pid = std::process::id();
    let tmp = parent.join(format!("{}.tmp-{pid}", meta.folder));
    // Only our own PID's leftover: another live launcher's tmp is not ours to touch.
    remove_tree(&tmp).map_err(|e| cache_error(&tmp, "cannot remove the leftover", &e))?;
    let result = fill(file, layout, meta, &tmp, final_dir)
        .and_then(|()| publish(&tmp, final_dir, meta, pid));
    if result.is_err() {
        let _ = remove_tree(&tmp); // best effort: never leave a partial folder behind
    }
    result
}

/// mkdir -p with 0700 for what we create: the cache holds a program we run.
fn create_private_dirs(dir: &Path) -> Result<(), Failure> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| cache_error(dir, "cannot create the cache folder", &e))
}

/// Unpack into `tmp` and write the `.complete` marker last.
fn fill(
    file: &File,
    layout: &Layout,
    meta: &Meta,
    tmp: &Path,
    final_dir: &Path,
) -> Result<(), Failure> {
    DirBuilder::new()
        .mode(0o700)
        .create(tmp)
        .map_err(|e| cache_error(tmp, "cannot create the folder", &e))?;
    unpack::unpack(file, layout, &meta.payload_sha256, tmp, final_dir)?;
    write_marker(tmp, &meta.payload_sha256)
        .map_err(|e| cache_error(final_dir, "cannot write the completion marker in", &e))
}

/// fsync the marker so a crash cannot leave a marker without its content.
fn write_marker(dir: &Path, sha256: &str) -> io::Result<()> {
    let mut f = File::create(dir.join(warm::COMPLETE_MARKER))?;
    f.write_all(format!("{sha256}\n").as_bytes())?;
    f.sync_all()
}

/// rename(tmp, final). If final exists: use it when another launcher made it
/// valid meanwhile, else move it aside as `<folder>.stale-<pid>` and retry.
fn publish(tmp: &Path, final_dir: &Path, meta: &Meta, pid: u32) -> Result<(), Failure> {
    let stale = final_dir.with_file_name(format!("{}.stale-{pid}", meta.folder));
    for _ in 0..PUBLISH_ATTEMPTS {
        match fs::rename(tmp, final_dir) {
            Ok(()) => return Ok(()),
            Err(e) if !is_exists(&e) => {
                return Err(cache_error(
                    final_dir,
                    "cannot rename the unpacked folder to",
                    &e,
                ))
            }
            Err(_) => {}
        }
        if warm::is_valid(final_dir, meta) {
            let _ = remove_tree(tmp); // another launcher won the race: its folder is as good as ours
            return Ok(());
        }
        let _ = remove_tree(&stale);
        match fs::rename(final_dir, &stale) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue, // someone moved it first
            Err(e) => {
                return Err(cache_error(
                    final_dir,
                    "cannot move aside the invalid folder",
                    &e,
                ))
            }
        }
        let renamed = fs::rename(tmp, final_dir);
        let _ = remove_tree(&stale);
        match renamed {
            Ok(()) => return Ok(()),
            Err(e) if is_exists(&e) => continue, // someone published between our two renames
            Err(e) => {
                return Err(cache_error(
                    final_dir,
                    "cannot rename the unpacked folder to",
                    &e,
                ))
            }
        }
    }
    Err(Failure::cache(format!(
        "cannot publish the sidecar into {}: it keeps being replaced",
        final_dir.display()
    )))
}

/// rename(2) onto a non-empty directory: EEXIST or ENOTEMPTY depending on the OS.
fn is_exists(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::AlreadyExists | io::ErrorKind::DirectoryNotEmpty
    )
}

/// rm -rf that treats "not there" as done.
fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => fs::remove_file(path),
        other => other,
    }
}

fn cache_error(path: &Path, what: &str, e: &io::Error) -> Failure {
    Failure::cache(format!("{what} {}: {e}", path.display()))
}
