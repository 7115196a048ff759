"""Params and results of the app's methods and its job (msgspec Structs: the wire schema)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

#: A DuckDB table name the job may create: letters, digits, underscore.
TableName = Annotated[str, Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")]


class CountParams(Struct, forbid_unknown_fields=True):
    """text: the text to count. top: how many of the most frequent words to return (default 10)."""

    text: str
    top: Annotated[int, Meta(ge=0, le=10_000)] = 10


class WordCount(Struct):
    """word: a word (case folded). count: how often it occurs."""

    word: str
    count: int


class CountResult(Struct):
    """total: words in the text. distinct: different words. words: the top words, most frequent first."""

    total: int
    distinct: int
    words: list[WordCount]


class TablesResult(Struct):
    """tables: the word tables wordfreq.scan wrote, sorted."""

    tables: list[str]


class ScanPayload(Struct, forbid_unknown_fields=True):
    """source: a text file under the data dir's imports/ folder (relative paths are) or a path the host
    granted. table: the DuckDB table to write (replaced if it exists): columns word, count."""

    source: Annotated[str, Meta(min_length=1)]
    table: TableName


class ScanResult(Struct):
    """table: the table written. total, distinct: words and different words. bytes: the file's size."""

    table: str
    total: int
    distinct: int
    bytes: int
