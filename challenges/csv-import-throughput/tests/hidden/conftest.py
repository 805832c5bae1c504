"""Shared fixtures of the hidden checks."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from hidden_support import Bulk, bulk_manifest

BULK_LINES = 21_000  # test_throughput.MAX_LINES, sum of test_memory's fast sizes


@pytest.fixture(scope="session")
def bulk() -> Bulk:
    """A large, realistic manifest: ~2% invalid lines and ~2% re-sent shipments."""
    return bulk_manifest(BULK_LINES)


@pytest.fixture
def quiet() -> Iterator[None]:
    """Mute log records while timing, so log capture costs nobody anything."""
    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
