"""Nothing but protocol lines reaches stdout, whatever a handler does."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.support import check_stdout, run_once, running_sidecar

STRAY = "STRAY-OUTPUT-MARKER"


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["test.print", "test.write_fd1", "test.c_printf", "test.child_stdout"])
async def test_stray_output_goes_to_stderr(data_dir: Path, method: str) -> None:
    async with running_sidecar(data_dir) as sidecar:
        result = await sidecar.call(method, {"text": STRAY})
        if method == "test.child_stdout":
            assert result == {"exit_code": 0, "read_stdin": False}  # the child saw no protocol stdin
        assert (await sidecar.call("system.ping"))["pong"] is True
        with anyio.fail_after(5):
            while not any(STRAY in line for line in sidecar.stderr_lines):
                await anyio.sleep(0.02)
    # running_sidecar() asserted there were no stdout violations
    assert all(STRAY not in v.line for v in sidecar.violations)


def test_stray_output_with_raw_stdout_bytes(data_dir: Path) -> None:
    """Check the raw bytes too (no client in between): every line is protocol."""
    requests = b"".join(
        b'{"jsonrpc":"2.0","id":%d,"method":"%s","params":{"text":"%s"}}\n' % (i, m.encode(), STRAY.encode())
        for i, m in enumerate(["test.print", "test.write_fd1", "test.c_printf", "test.child_stdout"])
    )
    proc = run_once(data_dir, requests)
    assert STRAY.encode() not in proc.stdout
    assert proc.stderr.count(STRAY.encode()) >= 4
    lines = check_stdout(proc.stdout)
    assert lines[-1] == "SHUTDOWN reason=normal"
