"""The composition root: ``python -m sidecar`` wires the daemon, the transport, the dispatcher, the API and the engine."""
