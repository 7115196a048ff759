"""The one engine object: settings, the state store, DuckDB, the keychain, the job pool, started on first use."""
