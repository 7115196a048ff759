"""DuckDB exceptions -> stable error kinds, and kinds -> failure classes.

Classification goes by the exception's class names (walking the MRO), so
this module never imports duckdb and also classifies errors raised after the
database was closed. The kinds are the contract listed in docs/PROTOCOL.md
section 11; the message is DuckDB's own, with secret values masked.
"""

from __future__ import annotations

from typing import Final

from sidecar.common.disk import is_disk_full
from sidecar.common.errors import ApplicationError
from sidecar.common.redaction import redact

#: DuckDB exception class name -> data.kind. The first match along the MRO wins.
_KIND_BY_CLASS: Final[dict[str, str]] = {
    "ParserException": "sql_syntax",
    "SyntaxException": "sql_syntax",
    "CatalogException": "catalog",
    "BinderException": "binder",
    "ConstraintException": "constraint",
    "IntegrityError": "constraint",
    "IOException": "io",
    "HTTPException": "network",
    "PermissionException": "permission",
    "InterruptException": "interrupted",
    "OutOfMemoryException": "out_of_memory",
    "ConversionException": "conversion",
    "OutOfRangeException": "conversion",
    "TypeMismatchException": "conversion",
    "InvalidTypeException": "conversion",
    "InvalidInputException": "invalid_input",
    "TransactionException": "transaction",
    "DependencyException": "dependency",
    "NotImplementedException": "not_supported",
    "SequenceException": "invalid_input",
    "SerializationException": "io",
    "ConnectionException": "connection",
    "FatalException": "fatal",
    "InternalException": "internal",
    "Error": "database",
}

#: Failure classes of a pipeline run (source, permission, network, sql, interrupted): what kind of problem a run hit.
FAILURE_CLASSES: Final = ("source", "permission", "network", "sql", "interrupted")
#: Classes worth retrying: the same step can succeed a moment later.
RETRYABLE_CLASSES: Final = frozenset({"source", "network"})

_CLASS_BY_KIND: Final[dict[str, str]] = {
    "io": "source",
    "source_not_found": "source",
    "network": "network",
    "connection": "network",
    "permission": "permission",
    "read_only": "permission",
    "secret_not_found": "permission",
    "keychain_unavailable": "permission",
    "keychain_locked": "permission",
    "keychain_error": "permission",
    "forbidden_path": "permission",
    "forbidden_statement": "permission",
    "network_disabled": "permission",
    "interrupted": "interrupted",
    "cancelled": "interrupted",
    "timeout": "interrupted",
    "shutting_down": "interrupted",
}


def is_duckdb_error(exc: BaseException) -> bool:
    """True for any exception raised by the duckdb module."""
    return any(cls.__module__ in ("duckdb", "_duckdb") for cls in type(exc).__mro__)


#: DuckDB's words for a file that is damaged or is not a database: its header check, a
#: page checksum, a file shorter than its header says. Matched case-insensitively.
_CORRUPT_MARKERS: Final = (
    "not a valid duckdb database file",
    "corrupt database file",
    "does not match stored checksum",
    "could not read enough bytes from file",
)
#: DuckDB's words when its sandbox refused a file (docs/SECURITY.md): a path outside the engine's folders.
_SANDBOX_MARKER: Final = "disabled by configuration"
#: DuckDB's words for a file another process holds open.
_LOCK_MARKERS: Final = ("could not set lock on file", "conflicting lock is held")


def is_corrupt_database(exc: BaseException) -> bool:
    """True when DuckDB says the database file is damaged (or not a DuckDB file at all)."""
    lowered = str(exc).lower()
    return any(marker in lowered for marker in _CORRUPT_MARKERS)


def open_failure_kind(exc: BaseException) -> str:
    """The kind for a failure to open the database file: ``database_locked`` only when another
    process holds DuckDB's file lock, ``database_corrupt`` when the file is damaged."""
    lowered = str(exc).lower()
    if any(marker in lowered for marker in _LOCK_MARKERS):
        return "database_locked"
    return duckdb_kind(exc)


def duckdb_kind(exc: BaseException) -> str:
    """The stable kind for a DuckDB exception."""
    if isinstance(exc, PermissionError):
        return "permission"
    if is_disk_full(exc):
        return "disk_full"
    if is_corrupt_database(exc):
        return "database_corrupt"
    for cls in type(exc).__mro__:
        kind = _KIND_BY_CLASS.get(cls.__name__)
        if kind is not None:
            if kind == "transaction" and "read-only" in str(exc):
                return "read_only"
            if kind == "transaction" and "conflict" in str(exc).lower():
                return "conflict"
            if kind == "io" and _looks_like_permission(str(exc)):
                return "permission"
            if kind == "permission" and _SANDBOX_MARKER in str(exc):
                return "forbidden_path"
            return kind
    return "database"


def _looks_like_permission(message: str) -> bool:
    lowered = message.lower()
    return "permission denied" in lowered or "access is denied" in lowered


def failure_class(kind: str) -> str:
    """The failure class (source, permission, network, sql, interrupted) of an error kind."""
    return _CLASS_BY_KIND.get(kind, "sql")


def clean_message(exc: BaseException) -> str:
    """The exception's text with registered secret values masked."""
    return str(redact(str(exc)))


def to_application_error(exc: BaseException) -> ApplicationError:
    """A DuckDB (or OS) exception as the -32000 error hosts see."""
    kind = duckdb_kind(exc)
    return ApplicationError(kind, clean_message(exc), duckdb_error=type(exc).__name__)
