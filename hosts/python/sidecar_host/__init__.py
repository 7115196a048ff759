"""The Python host client for the sidecar (spawns it, speaks its protocol); arrives from the reorganisation branch."""
