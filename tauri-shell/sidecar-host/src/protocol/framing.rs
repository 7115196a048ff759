//! Split a byte stream into lines with a hard size cap (sans-IO).
//!
//! Memory never exceeds the cap plus one read chunk: a line that grows past
//! the cap is dropped as it streams in, reported once as [`Line::Oversize`],
//! and the splitter resynchronises at the next newline. Same rules as the
//! Python `sidecar.protocol.framing.LineSplitter` (shared vectors in
//! `tests/vectors/framing.json`).

/// One unit of output of a [`LineSplitter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A complete line, its `\n` and one trailing `\r` removed.
    Complete(Vec<u8>),
    /// A line longer than the cap; its bytes were discarded.
    Oversize {
        /// How many bytes the line had (without the newline).
        size: usize,
        /// The cap in force.
        limit: usize,
    },
}

/// Feed bytes in, get complete lines out.
#[derive(Debug)]
pub struct LineSplitter {
    max_frame_bytes: usize,
    buf: Vec<u8>,
    discarding: bool,
    discarded: usize,
}

impl LineSplitter {
    /// A splitter that refuses lines longer than `max_frame_bytes` (at least 1).
    pub fn new(max_frame_bytes: usize) -> Self {
        assert!(max_frame_bytes >= 1, "max_frame_bytes must be positive");
        Self { max_frame_bytes, buf: Vec::new(), discarding: false, discarded: 0 }
    }

    /// The cap this splitter enforces.
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame_bytes
    }

    /// Consume a chunk; return every line it completed, in order.
    pub fn feed(&mut self, data: &[u8]) -> Vec<Line> {
        let mut out = Vec::new();
        let mut data = data;
        if self.discarding {
            match memchr::memchr(b'\n', data) {
                None => {
                    self.discarded += data.len();
                    return out;
                }
                Some(nl) => {
                    out.push(self.oversize(self.discarded + nl));
                    self.discarding = false;
                    self.discarded = 0;
                    data = &data[nl + 1..];
                }
            }
        }
        // What is held has no newline (every complete line was taken out), so only the new
        // bytes are searched: rescanning the held part on every chunk made a 500 KB answer,
        // read in 64 KB chunks, cost a scan of ~2 MB (issue 14: the app's 10k-row page).
        let mut search = self.buf.len();
        self.buf.extend_from_slice(data);
        let mut pos = 0;
        while let Some(rel) = memchr::memchr(b'\n', &self.buf[search..]) {
            let nl = search + rel;
            let end = if nl > pos && self.buf[nl - 1] == b'\r' { nl - 1 } else { nl };
            if end - pos > self.max_frame_bytes {
                out.push(self.oversize(nl - pos));
            } else {
                out.push(Line::Complete(self.buf[pos..end].to_vec()));
            }
            pos = nl + 1;
            search = pos;
        }
        if pos > 0 {
            self.buf.drain(..pos);
        }
        // One byte of slack: a line at the cap may end in the CR of a CRLF whose LF is
        // still to come, and how the stream was chunked must not change the answer.
        let held = self.buf.len();
        let cap = self.max_frame_bytes;
        if held > cap + 1 || (held == cap + 1 && self.buf.last() != Some(&b'\r')) {
            self.discarding = true;
            self.discarded = self.buf.len();
            self.buf.clear();
            self.buf.shrink_to(64 * 1024);
        }
        out
    }

    /// At end of stream: the last line if it had no newline, else `None`.
    pub fn finish(&mut self) -> Option<Line> {
        if self.discarding {
            self.discarding = false;
            let size = std::mem::take(&mut self.discarded);
            return Some(self.oversize(size));
        }
        if self.buf.is_empty() {
            return None;
        }
        let mut line = std::mem::take(&mut self.buf);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Some(Line::Complete(line))
    }

    /// Bytes held right now (for tests of the memory bound).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    fn oversize(&self, size: usize) -> Line {
        Line::Oversize { size, limit: self.max_frame_bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_stays_bounded_while_discarding() {
        let mut s = LineSplitter::new(8);
        for _ in 0..100 {
            assert!(s.feed(&[b'x'; 1000]).is_empty());
            assert_eq!(s.buffered(), 0);
        }
        assert_eq!(s.feed(b"\nok\n"), vec![Line::Oversize { size: 100_000, limit: 8 }, Line::Complete(b"ok".to_vec())]);
    }

    #[test]
    fn a_line_fed_in_many_chunks_is_found_once_and_whole() {
        let mut s = LineSplitter::new(1 << 20);
        let line: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        for chunk in line.chunks(4096) {
            assert!(s.feed(chunk).is_empty());
        }
        assert_eq!(s.buffered(), line.len());
        assert_eq!(s.feed(b"\r\nnext\npart"), vec![Line::Complete(line.clone()), Line::Complete(b"next".to_vec())]);
        assert_eq!(s.feed(b"ial\n"), vec![Line::Complete(b"partial".to_vec())]);
        assert_eq!(s.buffered(), 0);
    }
}
