"""Structured logs: JSON lines on stderr and in a size-rotated file.

Records go through a bounded queue to a listener thread, so logging never
blocks the event loop on a slow stderr reader or a slow disk; when the queue
is full records are dropped and counted (the count is logged later), memory
stays bounded. Every record passes the redaction step: fields named like
secrets and any value registered with :func:`redact_value` are replaced by
``"***"`` before they are written anywhere.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import queue
import sys
import time
from pathlib import Path
from typing import Any, Final

import msgspec

from sidecar.common.redaction import add_redactor, mask_secrets, redact, redact_context, redact_value

__all__ = ["JsonFormatter", "LogSetup", "add_redactor", "configure_logging", "redact", "redact_value", "stderr_line"]

LOG_QUEUE_RECORDS: Final = 10_000
#: How long closing the logs waits for the writer thread to write what is queued. A write to
#: the log file on a disk that does not answer can block (issue-log 0040): past this the
#: writer, a daemon thread, is left as it is and the process ends without it.
LOG_CLOSE_TIMEOUT_S: Final = 0.5
LOG_FILE_BYTES: Final = 5 * 1024 * 1024
LOG_FILE_BACKUPS: Final = 3
_encoder = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, plus the record's ``ctx``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_secrets(record.getMessage()),
        }
        ctx = getattr(record, "ctx", None)
        if ctx:
            entry.update(redact_context(dict(ctx)))
        if record.exc_info:
            entry["exc"] = mask_secrets(self.formatException(record.exc_info))
        return _encoder.encode(entry).decode("utf-8", "replace")


class _DroppingQueueHandler(logging.handlers.QueueHandler):
    """A QueueHandler that drops (and counts) records when the queue is full."""

    def __init__(self, q: queue.Queue[logging.LogRecord]) -> None:
        super().__init__(q)
        self.dropped = 0

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # Keep ctx and exc_info as objects; formatting happens on the listener thread.
        return record


class _Listener(logging.handlers.QueueListener):
    """The writer thread (a daemon thread), with a stop that does not wait for ever."""

    def stop_within(self, timeout: float) -> bool:
        """Ask the thread to finish what is queued; False if it is still writing after ``timeout``."""
        thread = self._thread
        if thread is None:
            return True
        self.enqueue_sentinel()
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._thread = None
        return True


class LogSetup:
    """The installed handlers; :meth:`close` flushes them at exit."""

    def __init__(self, listener: _Listener, handler: _DroppingQueueHandler) -> None:
        self._listener = listener
        self._handler = handler

    @property
    def dropped(self) -> int:
        """Records dropped because the queue was full."""
        return self._handler.dropped

    def close(self, timeout: float = LOG_CLOSE_TIMEOUT_S) -> bool:
        """Write what is queued and stop the writer thread; False if it is still writing after
        ``timeout``. Its handlers are then left open (it may be inside one), and the process must
        end without the interpreter's teardown, whose ``logging.shutdown`` would wait for it."""
        if self._handler.dropped:
            logging.getLogger("sidecar").warning(
                "log records dropped", extra={"ctx": {"dropped": self._handler.dropped}}
            )
        logging.getLogger().removeHandler(self._handler)
        if not self._listener.stop_within(timeout):
            with contextlib.suppress(OSError, ValueError):
                stderr_line("warning", "log writer still writing at exit: the last records may be lost")
            return False
        for handler in self._listener.handlers:
            try:
                handler.close()
            except OSError as exc:  # a full disk or a closed stderr must never change the exit status
                with contextlib.suppress(OSError):
                    stderr_line("warning", f"log handler not flushed at exit: {exc}", handler=type(handler).__name__)
        return True


def configure_logging(level: str, log_file: Path | None) -> LogSetup:
    """Install JSON logging to stderr (and ``log_file``, rotated by size)."""
    formatter = JsonFormatter()
    targets: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        targets.append(
            logging.handlers.RotatingFileHandler(
                log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
            )
        )
    for target in targets:
        target.setFormatter(formatter)
    records: queue.Queue[logging.LogRecord] = queue.Queue(LOG_QUEUE_RECORDS)
    handler = _DroppingQueueHandler(records)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    listener = _Listener(records, *targets, respect_handler_level=False)
    listener.start()
    return LogSetup(listener, handler)


def stderr_line(level: str, msg: str, **ctx: Any) -> None:
    """Write one JSON log line straight to stderr (before logging is set up)."""
    entry = {"ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "level": level, "msg": msg, **ctx}
    sys.stderr.write(_encoder.encode(redact(entry)).decode() + "\n")
    sys.stderr.flush()
