"""Keep the cyclic garbage collector out of the start.

A start allocates a few hundred thousand objects that live as long as the process (modules,
classes, functions, Structs; in a Nuitka binary also every compiled module's constants) and
almost no garbage. With the collector on, every 700 net allocations start a young collection,
and as those add up, older ones that traverse everything allocated so far: perf put ~27 % of a
Nuitka binary's start to READY in ``gc_collect_main`` and its visitors (issue-log 0062), for
nothing to collect. So the entry points (``python -m sidecar``, build/entry.py) switch it off
before their first import, and the server switches it back on once the start is over (READY
written, the deferred method groups registered): :func:`resume` first moves what the start
built into the permanent generation (``gc.freeze``), so later full collections skip it too.
"""

from __future__ import annotations

import gc


def pause() -> None:
    """Called first thing by an entry point, before it imports the server."""
    gc.disable()


def resume() -> None:
    """Collector back on, with the start's objects frozen. A no-op when it is already on (a
    start that did not pause it: the ``sidecar`` console script, an embedding test)."""
    if gc.isenabled():
        return
    gc.freeze()
    gc.enable()
