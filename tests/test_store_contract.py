"""The profile store contract (``personalize.testing.store_contract``), run against every
store of ours on real servers, and against a minimal third-party store."""

from __future__ import annotations

from personalize.testing.store_contract import ProfileStoreContract


class TestStoreContract(ProfileStoreContract):
    """Uses the conftest's ``store`` fixture: SQLite, PostgreSQL, Redis and memory."""
