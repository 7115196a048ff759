//! Streaming the payload into a folder: file slice -> SHA-256 -> zstd -> tar.
//!
//! The payload is never held in memory. Errors are sorted into "the binary
//! is damaged" (7) and "the cache folder cannot be written" (4); the hash
//! decides first, because a damaged payload can surface as anything.

use crate::error::Failure;
use crate::trailer::Layout;
use sha2::{Digest, Sha256};
use std::error::Error;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Compressed read buffer: big enough to keep syscalls few, small enough to not matter.
const READ_BUF: usize = 1 << 20;

/// Hashes and counts the raw payload bytes as the decoder pulls them.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
    /// A read error from our own executable (not a decode or write error).
    read_error: Option<io::Error>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.count += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.read_error = Some(io::Error::new(e.kind(), e.to_string()));
                Err(e)
            }
        }
    }
}

/// Remembers whether the decompressed stream itself failed, because tar
/// re-wraps reader errors and they would look like any other I/O error.
struct DecodeWatch<R> {
    inner: R,
    decode_error: Option<String>,
}

impl<R: Read> Read for DecodeWatch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.decode_error.get_or_insert_with(|| e.to_string());
        })
    }
}

/// Unpack the payload of `file` into `dest` (an existing empty folder) and
/// check its SHA-256. `shown` is the folder named in error messages.
pub fn unpack(
    file: &File,
    layout: &Layout,
    expected_sha256: &str,
    dest: &Path,
    shown: &Path,
) -> Result<(), Failure> {
    let mut file = file;
    file.seek(SeekFrom::Start(layout.payload_offset))
        .map_err(|e| Failure::damaged(format!("cannot read the launcher's own executable: {e}")))?;
    let raw = HashingReader {
        inner: file.take(layout.payload_len),
        hasher: Sha256::new(),
        count: 0,
        read_error: None,
    };
    let decoder = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(READ_BUF, raw))
        .map_err(|e| Failure::damaged(format!("cannot start the zstd decoder: {e}")))?;
    let mut archive = tar::Archive::new(DecodeWatch {
        inner: decoder,
        decode_error: None,
    });
    archive.set_preserve_permissions(false); // keep rwx bits, drop setuid/setgid/sticky
    archive.set_preserve_mtime(false); // one syscall less per file; nothing reads them
    archive.set_overwrite(false); // dest is fresh: a duplicate entry is a bad archive
    let extracted = extract_all(&mut archive, dest);

    let watch = archive.into_inner();
    let mut decode_error = watch.decode_error;
    let mut raw = if extracted.is_ok() && decode_error.is_none() {
        // Decode to the end: checks the zstd frame checksum and that no junk follows the tar.
        drain_decoder(watch.inner, &mut decode_error).into_inner()
    } else {
        watch.inner.finish().into_inner()
    };
    // Hash what the decoder did not pull, so the hash always covers the whole slice.
    let _ = io::copy(&mut raw, &mut io::sink());
    classify(
        raw,
        layout.payload_len,
        expected_sha256,
        decode_error,
        extracted,
        shown,
    )
}

/// Read the decoder to EOF; returns the raw reader for the final hashing.
fn drain_decoder<R: io::BufRead>(
    mut decoder: zstd::stream::read::Decoder<'static, R>,
    decode_error: &mut Option<String>,
) -> R {
    if let Err(e) = io::copy(&mut decoder, &mut io::sink()) {
        *decode_error = Some(e.to_string());
    }
    decoder.finish()
}

/// Decide the outcome. Order matters: a hash mismatch explains everything
/// else (7); a read error of our own file is 7; a decode error of an intact
/// payload is a packer bug (7); only then is a filesystem error a 4.
fn classify(
    raw: HashingReader<io::Take<&File>>,
    payload_len: u64,
    expected_sha256: &str,
    decode_error: Option<String>,
    extracted: io::Result<()>,
    shown: &Path,
) -> Result<(), Failure> {
    if let Some(e) = raw.read_error {
        return Err(Failure::damaged(format!(
            "cannot read the payload from the launcher's own executable: {e}"
        )));
    }
    let actual = to_hex(&raw.hasher.finalize());
    if raw.count != payload_len || actual != expected_sha256 {
        return Err(Failure::damaged(format!(
            "the payload is damaged: sha256 {actual} of {} bytes, expected {expected_sha256} of {payload_len} bytes",
            raw.count
        )));
    }
    if let Some(e) = decode_error {
        return Err(Failure::damaged(format!(
            "cannot decode the payload (zstd): {e}"
        )));
    }
    match extracted {
        Ok(()) => Ok(()),
        Err(e) => Err(classify_tar_error(&e, shown)),
    }
}

/// A tar-level error is either the filesystem refusing a write (4) or the
/// archive itself being invalid (7): the tar crate hides the OS error inside
/// its own error type, so dig for it.
pub fn classify_tar_error(e: &io::Error, shown: &Path) -> Failure {
    match find_os_error(e) {
        Some(code) => Failure::cache(format!(
            "cannot unpack the sidecar into {}: {}",
            shown.display(),
            io::Error::from_raw_os_error(code)
        )),
        None if is_write_kind(e.kind()) => Failure::cache(format!(
            "cannot unpack the sidecar into {}: {e}",
            shown.display()
        )),
        None => Failure::damaged(format!(
            "the payload is not a valid tar archive: {}",
            describe(e)
        )),
    }
}

/// Kinds that only a filesystem produces, for errors that lost their OS code.
fn is_write_kind(kind: io::ErrorKind) -> bool {
    use io::ErrorKind::*;
    matches!(
        kind,
        StorageFull
            | QuotaExceeded
            | ReadOnlyFilesystem
            | PermissionDenied
            | NotADirectory
            | FileTooLarge
    )
}

/// The first OS error code anywhere in the error's chain.
pub fn find_os_error(err: &(dyn Error + 'static)) -> Option<i32> {
    if let Some(io_err) = err.downcast_ref::<io::Error>() {
        if let Some(code) = io_err.raw_os_error() {
            return Some(code);
        }
        // io::Error::source() skips the wrapped error itself, so descend via get_ref.
        return io_err.get_ref().and_then(|inner| find_os_error(inner));
    }
    err.source().and_then(find_os_error)
}

/// The error and its causes on one line (tar's own Display drops the cause).
fn describe(err: &io::Error) -> String {
    let mut text = err.to_string();
    let mut cur: Option<&(dyn Error + 'static)> = err.get_ref().and_then(|e| e.source());
    while let Some(e) = cur {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cur = e.source();
    }
    text
}

/// Unpack every entry, directories last (deepest first) like tar's own
/// `Archive::unpack`, so a read-only directory is populated before its mode
/// is set. Unlike it, an entry that `unpack_in` skips (it would escape
/// `dest`) fails the whole unpack: our packer never writes one.
fn extract_all<R: Read>(archive: &mut tar::Archive<R>, dest: &Path) -> io::Result<()> {
    let mut directories = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() == tar::EntryType::Directory {
            directories.push(entry);
            continue;
        }
        unpack_entry(&mut entry, dest)?;
    }
    directories.sort_by(|a, b| b.path_bytes().cmp(&a.path_bytes()));
    for mut dir in directories {
        unpack_entry(&mut dir, dest)?;
    }
    Ok(())
}

fn unpack_entry<R: Read>(entry: &mut tar::Entry<'_, R>, dest: &Path) -> io::Result<()> {
    if entry.unpack_in(dest)? {
        return Ok(());
    }
    let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("tar entry {path:?} escapes the destination"),
    ))
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper {
        io: io::Error,
    }
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("failed to unpack `x`")
        }
    }
    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.io)
        }
    }

    /// What the tar crate does: io::Error(kind, TarError { source: io::Error(os) }).
    fn tar_like(inner: io::Error) -> io::Error {
        io::Error::new(inner.kind(), Wrapper { io: inner })
    }

    #[test]
    fn finds_os_error_nested_like_tar() {
        let e = tar_like(tar_like(io::Error::from_raw_os_error(28)));
        assert_eq!(find_os_error(&e), Some(28));
        let f = classify_tar_error(&e, Path::new("/c/A/sidecar/v"));
        assert_eq!(f.status, 4);
        assert!(
            f.msg
                .starts_with("cannot unpack the sidecar into /c/A/sidecar/v: "),
            "{}",
            f.msg
        );
        assert!(f.msg.contains("(os error 28)"), "{}", f.msg);
    }

    #[test]
    fn archive_errors_are_damage() {
        let e = tar_like(io::Error::other("numeric field was not a number"));
        assert_eq!(find_os_error(&e), None);
        let f = classify_tar_error(&e, Path::new("/c"));
        assert_eq!(f.status, 7);
        assert!(f.msg.contains("numeric field"), "{}", f.msg);
        let f = classify_tar_error(
            &io::Error::new(io::ErrorKind::UnexpectedEof, "eof"),
            Path::new("/c"),
        );
        assert_eq!(f.status, 7);
    }

    #[test]
    fn write_kinds_without_os_code_are_cache_errors() {
        let e = io::Error::new(io::ErrorKind::StorageFull, "full");
        assert_eq!(classify_tar_error(&e, Path::new("/c")).status, 4);
        let e = io::Error::new(io::ErrorKind::PermissionDenied, "denied");
        assert_eq!(classify_tar_error(&e, Path::new("/c")).status, 4);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(to_hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
