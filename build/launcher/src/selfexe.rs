//! Reading the trailer and meta from the launcher's own executable.

use crate::error::Failure;
use crate::meta::{self, Meta};
use crate::trailer::{self, Layout, TrailerError, TRAILER_LEN};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Find the payload and meta from the last 24 bytes of our own file.
pub fn read_layout(file: &File, path: &Path) -> Result<Layout, Failure> {
    let file_len = file
        .metadata()
        .map_err(|e| {
            Failure::damaged(format!(
                "cannot stat the launcher's own executable {}: {e}",
                path.display()
            ))
        })?
        .len();
    let mut buf = [0u8; TRAILER_LEN as usize];
    if file_len >= TRAILER_LEN {
        file.read_exact_at(&mut buf, file_len - TRAILER_LEN)
            .map_err(|e| {
                Failure::damaged(format!(
                    "cannot read the launcher's own executable {}: {e}",
                    path.display()
                ))
            })?;
    }
    trailer::parse(&buf, file_len).map_err(|e| match e {
        TrailerError::TooShort | TrailerError::BadMagic => Failure::damaged(format!(
            "no payload attached to {} (a bare launcher build, or a damaged file): pack it with build/launcher/pack.py",
            path.display()
        )),
        TrailerError::BadLengths => Failure::damaged(format!(
            "the launcher's trailer in {} does not fit the file (truncated or damaged)",
            path.display()
        )),
    })
}

/// Read and validate the meta JSON that sits right before the trailer.
pub fn read_meta(file: &File, layout: &Layout) -> Result<Meta, Failure> {
    let mut bytes = vec![0u8; layout.meta_len as usize];
    file.read_exact_at(&mut bytes, layout.meta_offset)
        .map_err(|e| Failure::damaged(format!("cannot read the launcher's meta: {e}")))?;
    meta::parse(&bytes)
}
