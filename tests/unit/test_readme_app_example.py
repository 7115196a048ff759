"""The README's "Add your own methods" snippets are the example app's real code, so they cannot rot."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "examples" / "wordfreq-app"


def _block_after(marker: str) -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index(marker)
    block = text[start:].split("```", 1)[0]
    return [line for line in block.splitlines()[1:] if line.strip() and line.strip() != "..."]


def _code(line: str) -> str:
    return re.sub(r"\s+#.*$", "", line).rstrip()


def test_the_python_snippet_is_in_the_example() -> None:
    source = (APP / "src" / "wordfreq_app" / "__init__.py").read_text(encoding="utf-8")
    lines = _block_after("# examples/wordfreq-app/src/wordfreq_app/__init__.py (abridged)")
    assert len(lines) > 10
    for line in lines:
        assert _code(line) in source, f"README line not in the example: {line!r}"


def test_the_pyproject_snippet_matches_the_example() -> None:
    project = tomllib.loads((APP / "pyproject.toml").read_text(encoding="utf-8"))
    shown = tomllib.loads(
        "\n".join(_code(line) for line in _block_after("# examples/wordfreq-app/pyproject.toml (abridged)"))
    )
    assert shown["project"]["name"] == project["project"]["name"]
    assert shown["project"]["version"] == project["project"]["version"]
    assert shown["project"]["dependencies"] == project["project"]["dependencies"]
    assert shown["project"]["entry-points"] == project["project"]["entry-points"]
    assert shown["tool"]["sidecar"] == project["tool"]["sidecar"]
