"""What every bench script writes: the common arguments, markdown tables, the chart and the files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from _paths import DEFAULT_OUT, DEFAULT_PYTHON


def standard_arguments(parser: Any) -> None:
    """--out, --python and --quick, the same in every script."""
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON, markdown and chart go")
    parser.add_argument("--python", type=Path, default=DEFAULT_PYTHON, help="the Python that runs the source subjects")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and counts: proves the script works, measures nothing worth quoting",
    )


def skipped_line(skipped: dict[str, str]) -> str:
    """ "Skipped: `name` why; ..." for the subjects a run could not measure ("" when none)."""
    if not skipped:
        return ""
    return "Skipped: " + "; ".join(f"`{name}` {why}" for name, why in skipped.items()) + ".\n"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for row in rows:
        lines.append("| " + " | ".join("-" if cell is None else str(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(
    out: Path, name: str, document: dict[str, Any], markdown: str, chart: Callable[[Path], None] | None
) -> None:
    """<out>/<name>.json, <name>.md and <name>.png, and the markdown on stdout."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown)
    if chart is not None:
        chart(out / f"{name}.png")
    print(markdown)
    print(f"written: {out / name}.json, .md" + (", .png" if chart else ""))


def bar_chart(
    path: Path,
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    ylabel: str,
    log: bool = False,
) -> None:
    """Grouped bars: one group per label, one bar per series (missing values left out)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.8))
    width = 0.8 / max(1, len(series))
    for index, (series_name, values) in enumerate(series.items()):
        xs = [i + index * width for i, v in enumerate(values) if v is not None]
        ys = [v for v in values if v is not None]
        bars = ax.bar(xs, ys, width, label=series_name)
        ax.bar_label(bars, labels=[_short(v) for v in ys], fontsize=7, padding=2)
    ax.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(labels))], labels, fontsize=8)
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=10)
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _short(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
