"""Reference point: the cheapest Python stdio JSON-RPC answerer (bench only).

A blocking loop with no event loop, no threads, no validation beyond a JSON
decode: read a line, answer it, flush. It serves nothing but ``system.ping``
and exists to show the floor under every stdio design on this machine: two
pipe hops, two process wake-ups and one JSON round trip. Whatever a real
server adds (an event loop, concurrency, cancellation, back-pressure) is the
distance from this floor.

    python bench/subjects/stdio_floor.py
"""

from __future__ import annotations

import functools
import os
import sys
import time

import msgspec


def main() -> None:
    decode = msgspec.json.decode
    encode = msgspec.json.encode
    # One write(2) per answer; lines this short go through a pipe whole (PIPE_BUF).
    write = functools.partial(os.write, 1)
    write(b"READY\n")
    for line in sys.stdin.buffer:
        message = decode(line)
        write(encode({"jsonrpc": "2.0", "id": message["id"], "result": {"pong": True, "ts": time.time()}}) + b"\n")


if __name__ == "__main__":
    main()
