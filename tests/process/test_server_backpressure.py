"""A host that stops reading stdout: memory stays bounded and nothing is lost.

Also the frame cap: an oversize line is answered with an error, memory stays
bounded while it streams in, and the next request is served.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from tests.support import check_stdout, frames, sidecar_args, sidecar_env

MiB = 1024 * 1024


def _tree_rss(pid: int) -> int:
    """RSS of a process plus its children (a onefile binary is two processes)."""
    root = psutil.Process(pid)
    total = 0
    for proc in [root, *root.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


@pytest.mark.slow
def test_stalled_host_memory_bounded_nothing_lost(data_dir: Path) -> None:
    requests = 20_000
    payload = "x" * 2000  # ~40 MB of answers in all: far more than any buffer holds
    proc = subprocess.Popen(
        sidecar_args(data_dir, heartbeat=0.05),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=sidecar_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    head = proc.stdout.readline() + proc.stdout.readline()
    assert head.startswith(b"BOOT ") and head.endswith(b"\nREADY\n")
    time.sleep(0.3)
    baseline = _tree_rss(proc.pid)

    def write_all() -> None:
        assert proc.stdin is not None
        for i in range(requests):
            line = {"jsonrpc": "2.0", "id": i, "method": "test.echo", "params": {"value": payload}}
            proc.stdin.write(json.dumps(line).encode() + b"\n")
        proc.stdin.flush()

    writer = threading.Thread(target=write_all, daemon=True)
    writer.start()
    peak = baseline
    stall_until = time.monotonic() + 10  # the host reads nothing for 10 s
    while time.monotonic() < stall_until:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.25)
    assert writer.is_alive(), "the sidecar swallowed all input while nobody read its output"
    growth = peak - baseline
    print(f"RSS baseline {baseline / MiB:.1f} MiB, peak growth {growth / MiB:.1f} MiB during the stall")
    assert growth < 30 * MiB, f"RSS grew by {growth / MiB:.1f} MiB while stdout was not read"

    out = bytearray()
    got_ids: set[int] = set()
    reader_done = threading.Event()

    def read_all() -> None:
        assert proc.stdout is not None
        while len(got_ids) < requests:
            line = proc.stdout.readline()
            if not line:
                break
            out.extend(line)
            if line.startswith(b"{"):
                got_ids.add(json.loads(line)["id"])
        reader_done.set()

    threading.Thread(target=read_all, daemon=True).start()
    assert reader_done.wait(120), f"only {len(got_ids)} answers arrived"
    writer.join(30)
    proc.stdin.close()
    rest = proc.stdout.read()
    assert proc.wait(30) == 0
    lines = check_stdout(head + bytes(out) + rest)
    answers = frames(lines)
    assert len(answers) == requests and {a["id"] for a in answers} == set(range(requests))
    assert all(a["result"] == payload for a in answers)
    beats = [int(line.split("seq=")[1].split()[0]) for line in lines if line.startswith("HEARTBEAT")]
    assert beats and beats == list(range(1, len(beats) + 1)), "heartbeats lost or out of order"
    assert lines[-1] == "SHUTDOWN reason=normal"


def test_oversize_frame_then_normal_request(data_dir: Path) -> None:
    big = b'{"jsonrpc":"2.0","id":1,"method":"test.echo","params":{"value":"' + b"y" * 5000 + b'"}}\n'
    ping = b'{"jsonrpc":"2.0","id":2,"method":"system.ping"}\n'
    proc = subprocess.run(
        sidecar_args(data_dir, "--max-frame-bytes", "1024"),
        input=big + ping,
        capture_output=True,
        timeout=30,
        env=sidecar_env(),
        check=False,
    )
    answers = frames(check_stdout(proc.stdout))
    assert answers[0]["id"] is None
    assert answers[0]["error"]["code"] == -32003
    assert answers[0]["error"]["data"] == {"kind": "frame_too_large", "size": len(big) - 1, "limit": 1024}
    assert answers[1]["id"] == 2 and answers[1]["result"]["pong"] is True
    assert proc.returncode == 0


@pytest.mark.slow
def test_huge_frame_streams_through_in_bounded_memory(data_dir: Path) -> None:
    """200 MiB without a newline against a 1 MiB cap: RSS stays flat, the next request works."""
    proc = subprocess.Popen(
        sidecar_args(data_dir, "--max-frame-bytes", str(MiB)),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=sidecar_env(),
    )
    assert proc.stdin is not None and proc.stdout is not None
    assert proc.stdout.readline().startswith(b"BOOT ")
    assert proc.stdout.readline() == b"READY\n"
    baseline = _tree_rss(proc.pid)
    peak = baseline
    chunk = b"z" * MiB
    for i in range(200):
        proc.stdin.write(chunk)
        if i % 10 == 0:
            peak = max(peak, _tree_rss(proc.pid))
    proc.stdin.write(b'\n{"jsonrpc":"2.0","id":7,"method":"system.ping"}\n')
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())
    second = json.loads(proc.stdout.readline())
    assert first["error"]["data"]["kind"] == "frame_too_large" and first["error"]["data"]["size"] == 200 * MiB
    assert second["id"] == 7 and second["result"]["pong"] is True
    assert peak - baseline < 16 * MiB, f"RSS grew {(peak - baseline) / MiB:.1f} MiB"
    proc.stdin.close()
    assert proc.wait(30) == 0
