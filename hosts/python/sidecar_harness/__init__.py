"""The launch-reliability harness and the Milestone 0 checklist; arrives from the reorganisation branch."""
