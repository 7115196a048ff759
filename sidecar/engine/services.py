"""The engine's parts, handed to job runners and method handlers as one object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sidecar.database.database import Database
from sidecar.daemon.paths import DataPaths
from sidecar.pipelines.ledger import RunLedger
from sidecar.secrets.store import SecretStore
from sidecar.settings.store import SettingsStore

Notify = Callable[[str, Any], Awaitable[None]]


@dataclass
class Services:
    """paths: the data folders. settings: the settings store. database: engine.duckdb.
    secrets: the keychain. ledger: the pipeline run ledger. notify: send a notification to the host.
    app_version: the sidecar's version (for reports).
    """

    paths: DataPaths
    settings: SettingsStore
    database: Database
    secrets: SecretStore
    ledger: RunLedger
    notify: Notify
    app_version: str
