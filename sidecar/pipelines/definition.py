"""Pipeline definitions: JSON or YAML, validated by one msgspec type.

```yaml
name: daily_sales
description: optional text
output: sales_by_region        # optional: the table previewed in the report
steps:
  - name: clean
    sql: CREATE OR REPLACE TABLE clean AS SELECT * FROM raw WHERE amount > 0
  - name: aggregate
    sql: CREATE OR REPLACE TABLE sales_by_region AS SELECT region, sum(amount) AS total FROM clean GROUP BY 1
    retries: 2                 # extra attempts for retryable failures (source, network)
```

A step's SQL may reference a secret as ``{{secret.NAME}}``: the sidecar
substitutes the value as a SQL string literal at execution time; the ledger,
reports and logs only ever hold the reference.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Final

import msgspec
from msgspec import Meta, Struct

from sidecar.common.errors import ApplicationError

SECRET_REFERENCE: Final = re.compile(r"\{\{\s*secret\.([A-Za-z0-9][A-Za-z0-9_.\-]{0,127})\s*\}\}")

StepName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$")]


class Step(Struct, forbid_unknown_fields=True):
    """name: unique within the pipeline. sql: one or more statements (run in one transaction).
    retries: extra attempts after a retryable failure (source, network), 0..10. description: free text.
    """

    name: StepName
    sql: Annotated[str, Meta(min_length=1)]
    retries: Annotated[int, Meta(ge=0, le=10)] = 0
    description: str | None = None


class Pipeline(Struct, forbid_unknown_fields=True):
    """name: the pipeline. steps: run in order; the first failure skips the rest.
    output: a table to preview in the report (default: the last step's own rows, or the table it creates).
    description: free text.
    """

    name: Annotated[str, Meta(min_length=1, max_length=200)]
    steps: Annotated[list[Step], Meta(min_length=1, max_length=200)]
    output: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for step in self.steps:
            if step.name in seen:
                raise ValueError(f"step name {step.name!r} is used twice")
            seen.add(step.name)


def load_file(path: str) -> Pipeline:
    """Read and validate a .json, .yaml or .yml definition (data.kind invalid_pipeline when it is not one)."""
    file = Path(path).expanduser()
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ApplicationError(
            "invalid_pipeline", f"cannot read pipeline file {file}: {exc.strerror or exc}", path=str(file)
        ) from exc
    try:
        if file.suffix.lower() in (".yaml", ".yml"):
            # PyYAML underneath: imported only when a YAML pipeline is loaded. Bound to its own
            # name: a local `import msgspec.yaml` would make `msgspec` local to this whole
            # function and break the JSON branch below (UnboundLocalError).
            from msgspec import yaml as msgspec_yaml

            return msgspec_yaml.decode(raw, type=Pipeline)
        if file.suffix.lower() == ".json":
            return msgspec.json.decode(raw, type=Pipeline)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ApplicationError("invalid_pipeline", f"{file.name}: {exc}", path=str(file)) from exc
    raise ApplicationError(
        "invalid_pipeline", f"{file.name}: a pipeline file ends in .json, .yaml or .yml", path=str(file)
    )


def fingerprint(pipeline: Pipeline) -> str:
    """SHA-256 of the canonical JSON of the definition (same definition, same hash)."""
    return hashlib.sha256(msgspec.json.encode(pipeline, order="sorted")).hexdigest()


def secret_names(pipeline: Pipeline) -> list[str]:
    """Every secret the steps reference, in first-use order."""
    names: list[str] = []
    for step in pipeline.steps:
        for name in SECRET_REFERENCE.findall(step.sql):
            if name not in names:
                names.append(name)
    return names


def substitute_secrets(sql: str, values: dict[str, str]) -> str:
    """``sql`` with each ``{{secret.NAME}}`` replaced by the value as a quoted SQL literal."""
    return SECRET_REFERENCE.sub(lambda match: "'" + values[match.group(1)].replace("'", "''") + "'", sql)
