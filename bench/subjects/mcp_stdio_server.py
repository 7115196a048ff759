"""Comparison subject: a stdio JSON-RPC server built on the MCP Python SDK (bench only).

This is the design the sidecar is measured against for "a stdio JSON-RPC
server that reads stdin through worker threads, the way the MCP Python SDK
does": it *is* the SDK (``mcp.server.lowlevel.Server`` over
``mcp.server.stdio.stdio_server``), whose transport reads each stdin line with
``anyio.wrap_file`` (a worker-thread hop per line), validates it with pydantic,
and passes it through memory streams to the session, which answers through a
second wrapped file (another thread hop per write).

Methods: the protocol's own ``ping`` and a ``query`` tool running one DuckDB
statement on its own cursor in a worker thread (what the sidecar's
``db.query`` does), returning ``{columns, rows}`` as structured content.

    python bench/subjects/mcp_stdio_server.py --db PATH
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import anyio
import duckdb
import mcp_types as types
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

QUERY_TOOL = types.Tool(
    name="query",
    description="Run one read-only SQL statement and return its rows.",
    input_schema={"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]},
)


def build_server(connection: duckdb.DuckDBPyConnection) -> Server[Any]:
    def run_query(sql: str) -> dict[str, Any]:
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
            columns = [{"name": d[0], "type": str(d[1])} for d in cursor.description or []]
            rows = [list(r) for r in cursor.fetchall()]
        finally:
            cursor.close()
        return {"columns": columns, "rows": rows, "row_count": len(rows)}

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[QUERY_TOOL])

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        result = await anyio.to_thread.run_sync(run_query, (params.arguments or {})["sql"])
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(result, default=str))],
        )

    return Server("bench-mcp", on_list_tools=list_tools, on_call_tool=call_tool)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    connection = duckdb.connect(args.db)
    server = build_server(connection)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
    connection.close()


if __name__ == "__main__":
    anyio.run(main)
