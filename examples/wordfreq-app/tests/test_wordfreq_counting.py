"""The counting rules, without a sidecar."""

from __future__ import annotations

from collections import Counter

from wordfreq_app.counting import count_words, top_words
from wordfreq_app.scan import count_chunk


def test_words_are_case_folded_letters_with_inner_apostrophes() -> None:
    counts = count_words("The cat's hat; the CAT, the_end 42 l'eau Straße STRASSE")
    assert counts == Counter({"the": 3, "cat's": 1, "hat": 1, "cat": 1, "end": 1, "l'eau": 1, "strasse": 2})


def test_top_words_breaks_ties_alphabetically() -> None:
    counts = Counter({"b": 2, "a": 2, "c": 5, "d": 1})
    assert top_words(counts, 3) == [("c", 5), ("a", 2), ("b", 2)]
    assert top_words(counts, 0) == []


def test_chunks_accumulate_and_survive_bad_utf8() -> None:
    counts: Counter[str] = Counter()
    count_chunk([b"one two\n", "two caf\u00e9\n".encode()], counts)
    count_chunk([b"bro\xffken\n"], counts)
    assert counts == Counter({"two": 2, "one": 1, "café": 1, "bro": 1, "ken": 1})
