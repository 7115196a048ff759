"""The launch-reliability harness of the Milestone 0 packaging spike: start builds many times, measure, judge.

Host-side only: never packaged into the sidecar binary. ``python -m
sidecar_harness --help`` for the interface; ``python -m sidecar_harness
checklist`` for the executable Milestone 0 checklist.
"""
