//! The 24-byte trailer at the end of the shipped file:
//! magic `SCLNCH01`, payload_len (u64 LE), meta_len (u64 LE).

pub const MAGIC: &[u8; 8] = b"SCLNCH01";
pub const TRAILER_LEN: u64 = 24;
/// Meta is a file list of a few hundred entries; anything huge means garbage.
pub const MAX_META_LEN: u64 = 64 << 20;

/// Where payload and meta sit inside the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub payload_offset: u64,
    pub payload_len: u64,
    pub meta_offset: u64,
    pub meta_len: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TrailerError {
    /// The file is shorter than a trailer.
    TooShort,
    /// The last 8+16 bytes are not ours: a bare build or a foreign file.
    BadMagic,
    /// Magic is right but the lengths do not fit the file.
    BadLengths,
}

/// Parse the trailer bytes of a file of `file_len` bytes into a layout.
pub fn parse(trailer: &[u8], file_len: u64) -> Result<Layout, TrailerError> {
    if file_len < TRAILER_LEN || trailer.len() != TRAILER_LEN as usize {
        return Err(TrailerError::TooShort);
    }
    if &trailer[..8] != MAGIC {
        return Err(TrailerError::BadMagic);
    }
    let payload_len = u64::from_le_bytes(trailer[8..16].try_into().unwrap());
    let meta_len = u64::from_le_bytes(trailer[16..24].try_into().unwrap());
    if meta_len == 0 || meta_len > MAX_META_LEN || payload_len == 0 {
        return Err(TrailerError::BadLengths);
    }
    // checked_add: a garbage length must not wrap around into a "valid" offset.
    let tail = payload_len
        .checked_add(meta_len)
        .and_then(|n| n.checked_add(TRAILER_LEN))
        .ok_or(TrailerError::BadLengths)?;
    if tail > file_len {
        return Err(TrailerError::BadLengths);
    }
    let payload_offset = file_len - tail;
    Ok(Layout {
        payload_offset,
        payload_len,
        meta_offset: payload_offset + payload_len,
        meta_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trailer(payload_len: u64, meta_len: u64) -> Vec<u8> {
        let mut t = MAGIC.to_vec();
        t.extend_from_slice(&payload_len.to_le_bytes());
        t.extend_from_slice(&meta_len.to_le_bytes());
        t
    }

    #[test]
    fn parses_a_valid_trailer() {
        let layout = parse(&trailer(100, 20), 1000 + 100 + 20 + 24).unwrap();
        assert_eq!(
            layout,
            Layout {
                payload_offset: 1000,
                payload_len: 100,
                meta_offset: 1100,
                meta_len: 20
            }
        );
    }

    #[test]
    fn payload_may_start_at_zero() {
        let layout = parse(&trailer(10, 5), 39).unwrap();
        assert_eq!(layout.payload_offset, 0);
    }

    #[test]
    fn short_file_is_rejected() {
        assert_eq!(parse(&trailer(1, 1), 23), Err(TrailerError::TooShort));
        assert_eq!(parse(&[0u8; 10], 10), Err(TrailerError::TooShort));
    }

    #[test]
    fn bad_magic_is_rejected() {
        let mut t = trailer(1, 1);
        t[7] = b'2';
        assert_eq!(parse(&t, 1000), Err(TrailerError::BadMagic));
    }

    #[test]
    fn lengths_beyond_the_file_are_rejected() {
        assert_eq!(parse(&trailer(100, 20), 143), Err(TrailerError::BadLengths));
        assert_eq!(
            parse(&trailer(u64::MAX, 20), 1 << 40),
            Err(TrailerError::BadLengths)
        );
        assert_eq!(
            parse(&trailer(1, u64::MAX), 1 << 40),
            Err(TrailerError::BadLengths)
        );
        assert_eq!(parse(&trailer(0, 20), 1000), Err(TrailerError::BadLengths));
        assert_eq!(parse(&trailer(10, 0), 1000), Err(TrailerError::BadLengths));
        assert_eq!(
            parse(&trailer(10, MAX_META_LEN + 1), 1 << 40),
            Err(TrailerError::BadLengths)
        );
    }
}
