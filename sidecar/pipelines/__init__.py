"""Pipelines: ordered SQL steps run as one job, a run ledger keyed by a UUIDv7
run id, and a report (HTML + metadata.json) for every run, failed ones too."""
