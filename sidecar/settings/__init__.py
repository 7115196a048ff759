"""Typed engine settings, saved atomically in the data dir."""
