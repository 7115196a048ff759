"""sidecar.daemon.startup_gc: the collector off for the start, then on with the start frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from sidecar.daemon import startup_gc


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    yield
    gc.unfreeze()
    gc.enable()


def test_pause_then_resume_freezes_what_the_start_built() -> None:
    gc.unfreeze()
    startup_gc.pause()
    assert not gc.isenabled()
    built = [[] for _ in range(1000)]  # long-lived containers, as imports make
    startup_gc.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(built)


def test_resume_leaves_a_collector_it_did_not_pause_alone() -> None:
    """The console script and tests run without pause(): nothing is frozen behind their back."""
    gc.unfreeze()
    startup_gc.resume()
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
