"""Secrets in the OS keychain through keyring: never on disk, never in logs."""
