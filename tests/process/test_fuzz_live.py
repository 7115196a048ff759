"""Generated and mutated frames against the live server (a real sidecar process), checked against JSON-RPC 2.0.

One process serves every example of a run; after each example the process must still be
alive, must have written exactly the answers JSON-RPC 2.0 asks for, each a valid response,
and nothing but protocol lines. ``HYPOTHESIS_PROFILE=soak`` sends about 100,000 frames
(docs/reliability.md has the command and the last result).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support import sidecar_args, sidecar_env
from tests.unit.test_protocol_properties import _check_answer, _expected_lines, frames

#: Longest wait for one example's answers (a busy CI machine, test.sleep frames).
ANSWER_TIMEOUT_S = 20.0


class LiveSidecar:
    """A sidecar process spoken to with blocking pipes, for many examples in a row."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            sidecar_args(data_dir),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=sidecar_env(),
        )
        self._buffer = b""
        self.frames_sent = 0
        self.examples = 0
        self.answers_checked = 0
        assert self.read_line().startswith(b"BOOT ") and self.read_line() == b"READY\n"

    def read_line(self) -> bytes:
        assert self.process.stdout is not None
        deadline = time.monotonic() + ANSWER_TIMEOUT_S
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            assert ready, f"no answer within {ANSWER_TIMEOUT_S} s (exit status {self.process.poll()})"
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
            assert chunk, f"the sidecar closed stdout (exit status {self.process.wait()})"
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line + b"\n"

    def exchange(self, lines: list[bytes], expected: int) -> list[bytes]:
        """Send the lines and read ``expected`` answer lines (they may come in any order), then a
        marker ping whose answer must be the very next line: nothing more was written."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"".join(line + b"\n" for line in lines))
        self.process.stdin.flush()
        self.frames_sent += len(lines)
        out = [self.read_line() for _ in range(expected)]
        for line in out:
            assert line[:1] in (b"{", b"["), f"not a JSON-RPC frame on stdout: {line[:200]!r}"
        marker = b"marker-%d" % self.frames_sent
        self.process.stdin.write(b'{"jsonrpc":"2.0","id":"' + marker + b'","method":"system.ping"}\n')
        self.process.stdin.flush()
        self.frames_sent += 1
        after = self.read_line()
        assert after.startswith(b'{"jsonrpc":"2.0","id":"' + marker + b'"'), (
            f"more answers than expected: {after[:200]!r}"
        )
        return out

    def close(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        rest = self.process.stdout.read() if self.process.stdout else b""
        status = self.process.wait(timeout=30)
        assert rest.endswith(b"SHUTDOWN reason=normal\n"), rest[-300:]
        return status


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSidecar]:
    sidecar = LiveSidecar(tmp_path_factory.mktemp("fuzz") / "data")
    started = time.monotonic()
    yield sidecar
    status = sidecar.close()
    report = os.environ.get("SIDECAR_FUZZ_REPORT")
    if report:  # the soak's figures, for docs/reliability.md
        Path(report).write_text(
            json.dumps(
                {
                    "examples": sidecar.examples,
                    "frames": sidecar.frames_sent,
                    "answers_checked": sidecar.answers_checked,
                    "seconds": round(time.monotonic() - started, 1),
                    "exit_status": status,
                }
            )
            + "\n"
        )
    assert status == 0


@given(st.lists(frames(), min_size=1, max_size=8))
def test_live_answers_follow_json_rpc(live: LiveSidecar, lines: list[bytes]) -> None:
    out = live.exchange(lines, sum(_expected_lines(line) for line in lines))
    assert live.process.poll() is None, "the sidecar died"
    live.examples += 1
    live.answers_checked += len(out)
    for raw in out:
        decoded = json.loads(raw)
        for answer in decoded if isinstance(decoded, list) else [decoded]:
            _check_answer(answer)
