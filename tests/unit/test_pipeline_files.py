"""Pipeline definition files: JSON and YAML load to the same Pipeline (sidecar.pipelines.definition)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from sidecar.common.errors import ApplicationError
from sidecar.pipelines.definition import Pipeline, load_file

YAML = Path(__file__).resolve().parents[1] / "fixtures" / "engine" / "sales_pipeline.yaml"


def test_a_json_file_loads_like_its_yaml_twin(tmp_path: Path) -> None:
    """A .json pipeline used to fail with UnboundLocalError (a local `import msgspec.yaml`)."""
    from_yaml = load_file(str(YAML))
    as_json = tmp_path / "sales_pipeline.json"
    as_json.write_text(json.dumps(msgspec.to_builtins(from_yaml)))
    from_json = load_file(str(as_json))
    assert isinstance(from_json, Pipeline) and from_json == from_yaml


def test_a_bad_json_file_is_an_invalid_pipeline(tmp_path: Path) -> None:
    bad = tmp_path / "p.json"
    bad.write_text('{"name": "x", "steps": "not a list"}')
    with pytest.raises(ApplicationError) as caught:
        load_file(str(bad))
    assert caught.value.kind == "invalid_pipeline" and "p.json" in caught.value.message
