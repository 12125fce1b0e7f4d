"""Benchmarks that print tables and write docs/benchmarks.md (see `make bench`)."""
