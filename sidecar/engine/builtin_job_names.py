"""The names of the built-in job types, without importing their runners.

App packages may not reuse them (sidecar.apps checks at startup, before READY, where
importing the runners would cost DuckDB-free but still needless milliseconds);
tests/unit/test_apps_registration.py checks this list against :func:`job_types`.
"""

from typing import Final

BUILTIN_JOB_TYPE_NAMES: Final = frozenset({"ingest", "export", "pipeline.run", "maintenance.compact"})
