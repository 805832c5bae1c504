"""Sample uploads for the visible tests."""

from __future__ import annotations

import io

import pytest
from PIL import Image


def sample_image(width: int, height: int, fmt: str = "JPEG", mode: str = "RGB") -> bytes:
    """A synthetic photo (two gradients and a soft pattern) encoded as ``fmt``."""
    pattern = Image.radial_gradient("L").resize((width // 4 + 1, height // 4 + 1))
    bands = [
        Image.linear_gradient("L").resize((width, height)),
        Image.radial_gradient("L").resize((width, height)),
        pattern.rotate(30).resize((width, height), Image.Resampling.BICUBIC),
    ]
    image = Image.merge("RGB", bands)
    if mode != "RGB":
        image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


@pytest.fixture(scope="session")
def landscape_jpeg() -> bytes:
    return sample_image(1200, 800)


@pytest.fixture(scope="session")
def large_photo() -> bytes:
    """Roughly what a recent phone uploads: 12 megapixels."""
    return sample_image(4000, 3000)
