"""Thumbnail generation for the upload service.

Every accepted upload gets a small JPEG preview that the gallery shows while the original
is still travelling through the rest of the media pipeline.
"""

from __future__ import annotations

import asyncio
import functools
import io
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType

from PIL import Image

THUMBNAIL_BOUNDS = (200, 200)
JPEG_QUALITY = 85
ACCEPTED_FORMATS = ("JPEG", "PNG")

# What Pillow raises for data it cannot decode: unknown or truncated files, broken chunks,
# absurd dimensions.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


class InvalidImageError(ValueError):
    """The upload is not a JPEG or PNG image that can be decoded."""


def fit_within(size: tuple[int, int], bounds: tuple[int, int]) -> tuple[int, int]:
    """Largest size with the aspect ratio of ``size`` that fits in ``bounds``.

    Small images are never upscaled.
    """
    width, height = size
    scale = min(bounds[0] / width, bounds[1] / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_thumbnail(data: bytes, bounds: tuple[int, int], quality: int) -> bytes:
    """Decode ``data``, downscale it to fit ``bounds`` and encode it as JPEG (blocking)."""
    try:
        with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as upload:
            upload.load()
            image = upload if upload.mode == "RGB" else upload.convert("RGB")
            size = fit_within(image.size, bounds)
            thumbnail = image.resize(size, Image.Resampling.LANCZOS)
    except _DECODE_ERRORS as exc:
        raise InvalidImageError(f"cannot decode upload: {exc}") from exc

    out = io.BytesIO()
    thumbnail.save(out, format="JPEG", quality=quality)
    return out.getvalue()


class ThumbnailService:
    """Turns uploaded image bytes into JPEG thumbnails.

    The upload handler owns one instance for the lifetime of the process::

        async with ThumbnailService() as thumbnails:
            jpeg = await thumbnails.create_thumbnail(upload_bytes)
    """

    def __init__(
        self, bounds: tuple[int, int] = THUMBNAIL_BOUNDS, quality: int = JPEG_QUALITY
    ) -> None:
        self.bounds = bounds
        self.quality = quality
        # Two decoders at a time: a 12 MP upload needs ~50 MB while it is being decoded.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="thumbnails")

    async def create_thumbnail(self, data: bytes) -> bytes:
        """Return a JPEG thumbnail of ``data`` that fits within ``self.bounds``.

        The aspect ratio is kept and the image is resampled with Lanczos, which the
        gallery team picked for sharp previews. Raises InvalidImageError when ``data``
        is not a decodable JPEG or PNG image.

        The CPU-bound work runs on the service's own thread pool (Pillow releases the GIL
        while it decodes and resamples), so the event loop stays free.
        """
        loop = asyncio.get_running_loop()
        render = functools.partial(render_thumbnail, data, self.bounds, self.quality)
        return await loop.run_in_executor(self._executor, render)

    async def aclose(self) -> None:
        """Release whatever the service holds. Called once, when the process shuts down.

        Nothing to do: the process is exiting, and its threads go with it."""

    async def __aenter__(self) -> ThumbnailService:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
