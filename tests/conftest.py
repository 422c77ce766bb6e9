"""Shared fixtures.

``market_data``: the real market data directory, from ``ZQ_DATA`` (default
``../shared/data`` beside the checkout). Tests that need it fail loudly when it is missing;
its files are read where they are, never copied into the project.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import uvloop

ROOT = Path(__file__).resolve().parents[1]


def _market_data_dir() -> Path:
    return Path(os.environ.get("ZQ_DATA", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def market_data() -> Path:
    """Return the real market data directory; fail (never skip) if it is missing."""
    path = _market_data_dir()
    if not (path / "README.md").is_file():
        pytest.fail(
            f"real market data not found at {path}: set ZQ_DATA to the shared data directory"
        )
    return path


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Run every asyncio test on uvloop, the loop of live nodes."""
    return {"uvloop": uvloop.new_event_loop}
