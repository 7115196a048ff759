"""Packaging tests: the built binaries and the build tools."""
