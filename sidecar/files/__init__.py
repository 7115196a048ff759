"""The engine's reach on disk: its own folders, the host's grants, and staging for DuckDB."""
