"""The engine's parts, handed to job runners and method handlers as one object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sidecar.engine.database import Database
from sidecar.paths import DataPaths
from sidecar.pipelines.ledger import RunLedger
from sidecar.secrets import SecretStore
from sidecar.settings import SettingsStore

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
