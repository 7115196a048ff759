"""Engine.close: the two file closes run side by side, bounded, and one failing never stops the other."""

from __future__ import annotations

import logging

import anyio
import pytest

from sidecar.engine.engine import Engine


class _File:
    """Stands in for Database / StateDB: ``close`` succeeds, raises, or never returns."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.closed = False

    async def close(self) -> None:
        if self.how == "raises":
            raise OSError("disk gone")
        if self.how == "hangs":
            await anyio.sleep_forever()
        self.closed = True


def _engine(database: _File, state: _File) -> Engine:
    engine = Engine.__new__(Engine)  # only what close() looks at: a started engine's two files
    engine.settings = object()  # type: ignore[assignment]  # a stand-in: only marks the engine as started
    engine.database = database  # type: ignore[assignment]  # a stand-in with the one method close() calls
    engine.state = state  # type: ignore[assignment]  # a stand-in with the one method close() calls
    return engine


@pytest.mark.anyio
async def test_a_failing_close_does_not_stop_the_other(caplog: pytest.LogCaptureFixture) -> None:
    state = _File("ok")
    with caplog.at_level(logging.ERROR, logger="sidecar.engine"):
        await _engine(_File("raises"), state).close()
    assert state.closed
    assert any(r.getMessage() == "closing a file failed" and r.ctx == {"file": "engine.duckdb"} for r in caplog.records)  # type: ignore[attr-defined]  # ctx is the logging extra


@pytest.mark.anyio
async def test_a_close_that_never_returns_is_given_up_and_named(caplog: pytest.LogCaptureFixture) -> None:
    database = _File("ok")
    with caplog.at_level(logging.WARNING, logger="sidecar.engine"), anyio.fail_after(30):
        await _engine(database, _File("hangs")).close()
    assert database.closed
    [record] = [r for r in caplog.records if r.getMessage().startswith("files not flushed at shutdown")]
    assert record.ctx["files"] == ["state.sqlite3"]  # type: ignore[attr-defined]  # ctx is the logging extra
