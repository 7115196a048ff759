"""Generic JSON-RPC serving: the dispatcher, the method registry, discovery, the request context.

Knows nothing of the engine, the daemon or stdio: it takes frames from a
stream and sends answers to a sink.
"""
