"""Words and their counts: the pure part of the app (no sidecar, no I/O)."""

from __future__ import annotations

import re
from collections import Counter
from typing import Final

#: A word: letters (any script), with inner apostrophes ("don't", "l'eau"); digits and
#: underscores split words. Case is folded, so "The" and "the" are one word.
WORD: Final = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def count_words(text: str, into: Counter[str] | None = None) -> Counter[str]:
    """Add the words of ``text`` to ``into`` (a new Counter when None) and return it."""
    counts: Counter[str] = Counter() if into is None else into
    counts.update(word.casefold() for word in WORD.findall(text))
    return counts


def top_words(counts: Counter[str], top: int) -> list[tuple[str, int]]:
    """The ``top`` most frequent words, most frequent first, ties in alphabetical order."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
