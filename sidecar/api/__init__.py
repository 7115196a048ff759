"""The method surface: one module per namespace (system, db, jobs, runs, secrets, settings, test)."""
