"""docs/TAURI.md shows some of the Tauri app's files complete; they must be the real files.

Each ``<!-- snippet: PATH -->`` marker in the page is followed by a fenced block that must
equal the file at PATH (relative to the repository root) byte for byte, so the page an app
author copies from cannot drift from what CI builds and drives. No build needed.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "TAURI.md"
SNIPPET = re.compile(r"<!-- snippet: (\S+) -->\n```[a-z]*\n(.*?)```\n", re.S)

#: The files the page promises to show complete ("Use it from your Tauri app").
COMPLETE = {
    "tauri-shell/src-tauri/build.rs",
    "tauri-shell/src-tauri/src/lib.rs",
    "tauri-shell/src-tauri/capabilities/default.json",
}


def snippets() -> dict[str, str]:
    return dict(SNIPPET.findall(PAGE.read_text()))


def test_the_parser_finds_the_marked_blocks() -> None:
    sample = "<!-- snippet: a/b.rs -->\n```rust\nfn main() {}\n```\n"
    assert SNIPPET.findall(sample) == [("a/b.rs", "fn main() {}\n")]
    assert set(snippets()) == COMPLETE


def test_each_complete_file_on_the_page_is_the_file() -> None:
    for path, shown in snippets().items():
        real = (REPO / path).read_text()
        assert shown == real, f"docs/TAURI.md shows an outdated {path}: paste the file again"
