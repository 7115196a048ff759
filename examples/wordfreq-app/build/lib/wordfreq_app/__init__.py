"""The wordfreq example app: its ``register`` is what the sidecar calls (entry point ``sidecar.apps``)."""

from __future__ import annotations

from typing import Any

import anyio.to_thread

from sidecar.sdk import App, Ctx, QueryHandle
from wordfreq_app.counting import count_words, top_words
from wordfreq_app.messages import CountParams, CountResult, TablesResult, WordCount
from wordfreq_app.scan import SCAN, TABLE_COMMENT

__version__ = "0.1.0"


def register(app: App) -> None:
    """Add wordfreq.count, wordfreq.tables and the wordfreq.scan job type."""

    @app.method("wordfreq.count")
    async def wordfreq_count(ctx: Ctx, params: CountParams) -> CountResult:
        """Count the words of a text: the total, the distinct words and the most frequent ones."""
        counts = await anyio.to_thread.run_sync(count_words, params.text)  # a long text must not block the loop
        words = [WordCount(word=word, count=count) for word, count in top_words(counts, params.top)]
        return CountResult(total=sum(counts.values()), distinct=len(counts), words=words)

    @app.method("wordfreq.tables")
    async def wordfreq_tables(ctx: Ctx) -> TablesResult:
        """The word tables wordfreq.scan wrote into the engine database."""
        engine = await ctx.app.engine.started()

        async def tables(handle: QueryHandle) -> list[str]:
            return await handle.run(_word_tables)

        return TablesResult(tables=await engine.database.using(tables))

    app.job_type(SCAN)


def _word_tables(cursor: Any) -> list[str]:
    rows = cursor.execute(
        "SELECT table_name FROM duckdb_tables() WHERE comment = ? ORDER BY table_name", [TABLE_COMMENT]
    ).fetchall()
    return [str(row[0]) for row in rows]
