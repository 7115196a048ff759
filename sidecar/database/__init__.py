"""The DuckDB side of the engine: one database file, cursors that can be
interrupted, queries with lossless value encoding, exports, the catalog.

Nothing here imports ``duckdb`` at module import time: the first request that
needs the database pays for it (in a worker thread), READY never does.
"""
