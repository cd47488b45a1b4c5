"""Fixtures for fault tests: a PostgreSQL of their own to stop and freeze, and the environment of its processes."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.reliability.pg import ThrowawayPostgres


@pytest.fixture
async def throwaway_pg() -> AsyncIterator[ThrowawayPostgres]:
    """A running cluster nobody else uses: the shared test server must stay up for the other tests."""
    pg = ThrowawayPostgres()
    try:
        pg.start()
        yield pg
    finally:
        pg.destroy()


def process_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``phr`` process (API or worker) on ``database_url``, secrets kept in ``data_dir``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
    return (
        base
        | {
            "PHR_ENV": "test",
            "PHR_DATABASE_URL": database_url,
            "PHR_DATA_DIR": str(data_dir),
            "PHR_LOG_LEVEL": "WARNING",
            "PHR_LOG_FORMAT": "json",
        }
        | extra
    )
