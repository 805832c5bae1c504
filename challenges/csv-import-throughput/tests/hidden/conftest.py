"""Shared fixtures of the hidden checks (judged: the import runs in a candidate host)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hidden_support import Bulk, bulk_manifest
from import_host import SharedFolder

BULK_LINES = 21_000  # made up front: test_throughput.MAX_LINES; test_memory's larger
# imports (test_memory.FAST) make the lines past these when they first need them


@pytest.fixture(scope="session")
def bulk() -> Bulk:
    """A large, realistic manifest: ~2% invalid lines and ~2% re-sent shipments."""
    return bulk_manifest(BULK_LINES)


@pytest.fixture
def shared() -> Iterator[SharedFolder]:
    """A fresh folder under the shared /tmp for this check's manifests and databases."""
    folder = SharedFolder()
    try:
        yield folder
    finally:
        folder.close()
