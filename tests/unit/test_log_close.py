"""Closing the logs never waits for ever on a writer stuck in a handler (a disk that does not answer)."""

from __future__ import annotations

import logging
import queue
import threading

from sidecar.daemon.logs import LogSetup, _DroppingQueueHandler, _Listener


class _Stuck(logging.Handler):
    """A handler whose write blocks until released, as a write to a stalled disk does."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.unblock = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.entered.set()
        self.unblock.wait(30)


def _setup(target: logging.Handler) -> tuple[LogSetup, logging.Logger]:
    records: queue.Queue[logging.LogRecord] = queue.Queue(100)
    listener = _Listener(records, target, respect_handler_level=False)
    handler = _DroppingQueueHandler(records)
    logger = logging.getLogger("test.log_close")
    logger.propagate = False
    logger.handlers[:] = [handler]
    listener.start()
    return LogSetup(listener, handler), logger


def test_close_gives_up_on_a_writer_stuck_in_a_handler() -> None:
    stuck = _Stuck()
    setup, logger = _setup(stuck)
    try:
        logger.warning("the last words")
        assert stuck.entered.wait(10)
        assert setup.close(timeout=0.2) is False  # the writer is left as it is, a daemon thread
    finally:
        stuck.unblock.set()


def test_close_writes_everything_queued_when_the_writer_can() -> None:
    class Keep(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    keep = Keep()
    setup, logger = _setup(keep)
    for n in range(50):
        logger.warning("record %d", n)
    assert setup.close() is True
    assert keep.messages == [f"record {n}" for n in range(50)]
