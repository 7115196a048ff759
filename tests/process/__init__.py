"""Process tests: a real sidecar (python -m sidecar, or SIDECAR_BINARY) as a subprocess."""
