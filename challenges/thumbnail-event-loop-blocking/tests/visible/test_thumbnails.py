"""Quick checks you can run while you work. The graded suite measures more than this."""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from conftest import sample_image
from PIL import Image
from thumbnails import InvalidImageError, ThumbnailService
from uploads import UploadService


def thumbnail_of(data: bytes) -> Image.Image:
    async def run() -> bytes:
        async with ThumbnailService() as service:
            return await service.create_thumbnail(data)

    image = Image.open(io.BytesIO(asyncio.run(run())))
    image.load()
    return image


def test_landscape_photo_becomes_a_200px_jpeg(landscape_jpeg):
    thumbnail = thumbnail_of(landscape_jpeg)
    assert thumbnail.format == "JPEG"
    assert thumbnail.size == (200, 133)


def test_png_with_transparency_and_small_images():
    tall = thumbnail_of(sample_image(600, 1800, fmt="PNG", mode="RGBA"))
    assert (tall.format, tall.mode, tall.size) == ("JPEG", "RGB", (67, 200))
    small = thumbnail_of(sample_image(120, 90, fmt="PNG"))
    assert small.size == (120, 90), "small uploads must not be upscaled"


def test_corrupt_upload_is_rejected(landscape_jpeg):
    async def run() -> tuple[int, int]:
        async with ThumbnailService() as service:
            with pytest.raises(InvalidImageError):
                await service.create_thumbnail(b"definitely not an image")
            app = UploadService(service)
            bad = await app.upload("bad", landscape_jpeg[:5000])
            good = await app.upload("good", landscape_jpeg)
            return bad.status, good.status

    assert asyncio.run(run()) == (422, 201)


def test_health_checks_answer_during_a_large_upload(large_photo):
    """The incident: health checks time out while someone uploads a big photo."""

    async def run() -> tuple[float, float]:
        async with ThumbnailService() as service:
            app = UploadService(service)
            await app.upload("warm-up", sample_image(400, 300))
            started = time.perf_counter()
            upload = asyncio.create_task(app.upload("photo", large_photo))
            worst_wait = 0.0
            while not upload.done():
                probe_sent = time.perf_counter()
                await asyncio.sleep(0.005)  # the load balancer probes every few ms here
                response = await app.health()
                assert response.status == 200
                worst_wait = max(worst_wait, time.perf_counter() - probe_sent - 0.005)
            assert (await upload).status == 201
            return worst_wait, time.perf_counter() - started

    worst_wait, upload_time = asyncio.run(run())
    assert worst_wait < 0.25 * upload_time, (
        f"a health check waited {worst_wait * 1000:.0f} ms while one upload took "
        f"{upload_time * 1000:.0f} ms"
    )
