"""Session-wide inputs for the hidden checks, made here in the judge with Pillow."""

from __future__ import annotations

import pytest
from hidden_support import make_image


@pytest.fixture(scope="session")
def photo_jpeg() -> bytes:
    """A 12 MP phone photo."""
    return make_image(4000, 3000, "JPEG")


@pytest.fixture(scope="session")
def small_jpeg() -> bytes:
    return make_image(1200, 800, "JPEG")
