"""Comparison subject: the seeds' original design, a FastAPI app on uvicorn over localhost HTTP (bench only).

Given its best reasonable shot: ``uvicorn[standard]`` (uvloop, httptools),
access log off, FastAPI's own JSON responses for small answers, and for the 1M-row transfer the rows encoded straight to
bytes with msgspec (FastAPI's default ``jsonable_encoder`` path would take tens
of seconds on a million rows and measure nothing but itself).

Endpoints (DuckDB work runs in FastAPI's thread pool, each request on its own cursor):

* ``GET /health``        ``{"status": "ok"}``; what the launcher polls
* ``GET /ping``          ``{"pong": true, "ts": ...}`` (what ``system.ping`` answers)
* ``POST /query``        ``{"sql"}`` -> ``{columns, rows, row_count}``
* ``POST /rows``         the same, encoded with msgspec (the 10,000-row page: FastAPI's best shot at many rows)
* ``GET /table/{name}``  every row of a table as ``{columns, rows, row_count}``

    python bench/subjects/fastapi_server.py --db PATH --port N [--cors-origin ORIGIN]

``--cors-origin`` (bench/app_roundtrip.py: the webview's origin, e.g. ``tauri://localhost``)
answers CORS for that origin, so a page in the Tauri app can ``fetch()`` it as the seeds'
design did; the preflight is cached (``max_age``) as a real app would have it.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import duckdb
import msgspec
import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response
from pydantic import BaseModel


class QueryBody(BaseModel):
    sql: str


def _json_default(value: Any) -> Any:
    return str(value)


_encode = msgspec.json.Encoder(enc_hook=_json_default).encode


def build_app(connection: duckdb.DuckDBPyConnection, cors_origins: list[str] | None = None) -> FastAPI:
    app = FastAPI()
    if cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["content-type"],
            max_age=600,
        )

    def rows_of(sql: str) -> dict[str, Any]:
        cursor = connection.cursor()
        try:
            cursor.execute(sql)
            columns = [{"name": d[0], "type": str(d[1])} for d in cursor.description or []]
            rows = cursor.fetchall()
        finally:
            cursor.close()
        return {"columns": columns, "rows": rows, "row_count": len(rows)}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ping")
    async def ping() -> dict[str, Any]:
        return {"pong": True, "ts": time.time()}

    @app.post("/query")
    def query(body: QueryBody) -> dict[str, Any]:
        result = rows_of(body.sql)
        result["rows"] = [list(r) for r in result["rows"]]
        return result

    @app.post("/rows")
    def rows(body: QueryBody) -> Response:
        return Response(_encode(rows_of(body.sql)), media_type="application/json")

    @app.get("/table/{name}")
    def table(name: str) -> Response:
        if not name.isidentifier():
            return Response(status_code=400)
        # msgspec instead of FastAPI's encoder: see the module docstring.
        return Response(_encode(rows_of(f'SELECT * FROM "{name}"')), media_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cors-origin", action="append", help="an origin allowed to fetch (repeatable)")
    args = parser.parse_args()
    connection = duckdb.connect(args.db)
    uvicorn.run(
        build_app(connection, args.cors_origin),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
