"""Split a byte stream into lines with a hard size cap (sans-IO).

Memory never exceeds the cap plus one read chunk: a line that grows past the
cap is dropped as it streams in, reported once as :class:`OversizeFrame`, and
the splitter resynchronises at the next newline.
"""

from __future__ import annotations

from sidecar.protocol.messages import OversizeFrame

#: The default frame cap (``--max-frame-bytes``): 16 MiB.
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024


class LineSplitter:
    """Feed bytes in, get complete lines (newline and one trailing CR removed) out."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 1:
            raise ValueError("max_frame_bytes must be positive")
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()
        self._discarding = False
        self._discarded = 0

    def feed(self, data: bytes) -> list[bytes | OversizeFrame]:
        """Consume a chunk; return every line it completed, in order."""
        out: list[bytes | OversizeFrame] = []
        start = 0
        if self._discarding:
            nl = data.find(b"\n")
            if nl < 0:
                self._discarded += len(data)
                return out
            out.append(self._oversize(self._discarded + nl))
            self._discarding = False
            self._discarded = 0
            start = nl + 1
        buf = self._buf
        buf += data[start:] if start else data
        pos = 0
        limit = self.max_frame_bytes
        while True:
            nl = buf.find(b"\n", pos)
            if nl < 0:
                break
            end = nl - 1 if nl > pos and buf[nl - 1] == 0x0D else nl
            if end - pos > limit:
                out.append(self._oversize(nl - pos))
            else:
                out.append(bytes(buf[pos:end]))
            pos = nl + 1
        if pos:
            del buf[:pos]
        # One byte of slack: a line at the cap may end in the CR of a CRLF whose LF is
        # still to come, and how the stream was chunked must not change the answer.
        if len(buf) > limit + 1 or (len(buf) == limit + 1 and buf[-1] != 0x0D):
            self._discarding = True
            self._discarded = len(buf)
            buf.clear()
        return out

    def finish(self) -> bytes | OversizeFrame | None:
        """At end of stream: the last line if it had no newline, else None."""
        if self._discarding:
            self._discarding = False
            return self._oversize(self._discarded)
        if not self._buf:
            return None
        line = bytes(self._buf).removesuffix(b"\r")
        self._buf.clear()
        return line

    @property
    def buffered(self) -> int:
        """Bytes held right now (for tests of the memory bound)."""
        return len(self._buf)

    def _oversize(self, size: int) -> OversizeFrame:
        return OversizeFrame(size=size, limit=self.max_frame_bytes)
