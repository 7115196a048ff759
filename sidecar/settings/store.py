"""Engine settings: typed, validated, persisted atomically in the data dir.

``settings.json`` holds only what differs from nothing in particular: the
whole typed record is written each time (write to a temporary file, fsync,
rename over the old one, fsync the folder), so a crash leaves either the old
file or the new one, never a mix. Unknown keys in a request are -32602;
unknown keys in the file (written by a newer version) are ignored.
"""

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final

import anyio
import anyio.to_thread
import msgspec
from msgspec import Meta, Struct

from sidecar.common.disk import disk_full_error, is_disk_full
from sidecar.common.errors import ApplicationError, ErrorCode, RpcError

log = logging.getLogger("sidecar.settings")

SETTINGS_FILE: Final = "settings.json"


class Settings(Struct, forbid_unknown_fields=True, kw_only=True):
    """The engine's tunables.

    query_default_limit: rows db.query returns when no limit is given.
    query_max_limit: the largest limit db.query accepts.
    jobs_concurrency: jobs running at once (the worker pool's size; applies at once).
    jobs_queue_limit: queued jobs accepted before jobs.submit answers queue_full.
    jobs_retry_backoff_ms: first retry delay of a retryable job or pipeline step (doubles each attempt).
    duckdb_threads: DuckDB worker threads (null: DuckDB's default); applies at the next start.
    duckdb_memory_limit: DuckDB memory limit such as "2GB" (null: DuckDB's default); applies at the next start.
    report_preview_rows: rows of the last step's output shown in a run report.
    """

    query_default_limit: Annotated[int, Meta(ge=1)] = 10_000
    query_max_limit: Annotated[int, Meta(ge=1)] = 100_000
    jobs_concurrency: Annotated[int, Meta(ge=1, le=64)] = 2
    jobs_queue_limit: Annotated[int, Meta(ge=1, le=100_000)] = 1_000
    jobs_retry_backoff_ms: Annotated[int, Meta(ge=0, le=600_000)] = 500
    duckdb_threads: Annotated[int, Meta(ge=1, le=1024)] | None = None
    duckdb_memory_limit: Annotated[str, Meta(pattern=r"^\d+(\.\d+)?\s*([KMGT]i?B|%)?$")] | None = None
    report_preview_rows: Annotated[int, Meta(ge=0, le=1_000)] = 20


SETTING_NAMES: Final = tuple(field.name for field in msgspec.structs.fields(Settings))


class SettingsGetResult(Struct):
    """settings: every setting with its current value. path: the file they persist in."""

    settings: Settings
    path: str


class SettingsSetParams(Struct, forbid_unknown_fields=True):
    """values: the settings to change, by name (the others keep their values)."""

    values: dict[str, Any]


def check_consistent(settings: Settings) -> None:
    """Rules across fields (-32602 when broken)."""
    if settings.query_default_limit > settings.query_max_limit:
        raise RpcError(
            ErrorCode.INVALID_PARAMS,
            "query_default_limit cannot exceed query_max_limit",
            data={"path": "$.values.query_default_limit", "detail": f"at most {settings.query_max_limit}"},
        )


class SettingsStore:
    """The current settings and their file; observers hear about every change."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / SETTINGS_FILE
        self.current = Settings()
        self._observers: list[Callable[[Settings], None]] = []
        self._lock: anyio.Lock | None = None

    def observe(self, callback: Callable[[Settings], None]) -> None:
        """Call ``callback(settings)`` after every successful change."""
        self._observers.append(callback)

    async def load(self) -> Settings:
        """Read the file (defaults when missing; a damaged file is logged and ignored)."""
        self.current = await anyio.to_thread.run_sync(self._read)
        return self.current

    def _read(self) -> Settings:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return Settings()
        try:
            stored = msgspec.json.decode(raw, type=dict[str, Any])
            known = {key: value for key, value in stored.items() if key in SETTING_NAMES}
            return msgspec.convert(known, Settings)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error(
                "settings file unreadable; using defaults", extra={"ctx": {"path": str(self.path), "error": str(exc)}}
            )
            return Settings()

    async def update(self, values: dict[str, Any]) -> Settings:
        """Validate ``values`` over the current settings, persist atomically, notify observers."""
        for key in values:
            if key not in SETTING_NAMES:
                raise RpcError(
                    ErrorCode.INVALID_PARAMS,
                    f"unknown setting {key!r}; known: {', '.join(SETTING_NAMES)}",
                    data={"path": f"$.values.{key}", "detail": "unknown setting", "known": list(SETTING_NAMES)},
                )
        merged = {**msgspec.structs.asdict(self.current), **values}
        try:
            candidate = msgspec.convert(merged, Settings)
        except msgspec.ValidationError as exc:
            text = str(exc)
            path = text.rsplit("at `", 1)[-1].rstrip("`") if "at `$" in text else "$"
            raise RpcError(
                ErrorCode.INVALID_PARAMS,
                f"Invalid params: {text}",
                data={"path": path.replace("$", "$.values", 1), "detail": text.split(" - at ")[0]},
            ) from None
        check_consistent(candidate)
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            try:
                await anyio.to_thread.run_sync(
                    write_atomically, self.path, msgspec.json.format(msgspec.json.encode(candidate))
                )
            except OSError as exc:
                if is_disk_full(exc):
                    raise disk_full_error(exc, "saving the settings") from exc
                raise ApplicationError("io", f"saving the settings failed: {exc}", path=str(self.path)) from exc
            self.current = candidate
        log.info("settings changed", extra={"ctx": {"keys": sorted(values)}})
        for callback in self._observers:
            callback(candidate)
        return candidate


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so readers see the old or the new content, never a mix."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)  # a failed write (a full disk) leaves nothing behind
        raise
    if os.name == "posix":  # make the rename itself durable
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
