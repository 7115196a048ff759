"""Moving frames: the protocol stdin/stdout fds, the stdin reader, the outbox, and an in-memory transport."""
