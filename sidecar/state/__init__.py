"""The engine's durable state store (one sqlite file in WAL mode) that jobs and the run ledger share."""
