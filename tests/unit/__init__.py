"""Unit tests: no sidecar process (sans-IO cores, the in-memory dispatcher, small modules)."""
