"""Persistence behind the narrow `Store` interface; SQLite by default, PostgreSQL alike."""
