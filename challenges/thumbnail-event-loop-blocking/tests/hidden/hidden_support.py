"""Inputs and measuring helpers shared by the hidden checks."""

from __future__ import annotations

import asyncio
import contextlib
import io
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from PIL import Image

# Pillow allocates decoded images in blocks (16 MB by default). glibc's malloc raises its mmap
# threshold after the first large free, so later 16 MB blocks come from the heap and calloc
# zeroes them with a memset while the GIL is held: ~15 ms per 12 MP image, a measurement
# artefact that would blur the loop lag of a correct thread-pool fix. One block per image
# (48 MB, above glibc's largest dynamic threshold) keeps those allocations as fresh mmaps.
Image.core.set_block_size(64 * 1024 * 1024)

HEARTBEAT_PERIOD = 0.005  # seconds between heartbeat wake-ups


def make_image(width: int, height: int, fmt: str, mode: str = "RGB") -> bytes:
    """A synthetic photo: smooth gradients plus soft noise, encoded as ``fmt``."""
    small = (max(1, width // 8), max(1, height // 8))
    seed = random.Random(f"{width}x{height}")
    noise = Image.frombytes("L", small, seed.randbytes(small[0] * small[1]))
    bands = [
        Image.linear_gradient("L").resize((width, height)),
        Image.radial_gradient("L").resize((width, height)),
        noise.resize((width, height), Image.Resampling.BICUBIC),
    ]
    image = Image.merge("RGB", bands)
    if mode != "RGB":
        image = image.convert(mode)
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, format="JPEG", quality=90)
    else:
        image.save(out, format=fmt, compress_level=1)
    return out.getvalue()


@dataclass
class LagRun:
    max_lag: float  # seconds
    elapsed: float  # seconds for the whole batch
    results: list[bytes | BaseException]


async def measure_loop_lag(
    service_factory: Callable[[], object], uploads: list[bytes], warmup: bytes
) -> LagRun:
    """Generate thumbnails for ``uploads`` concurrently while a heartbeat task measures how
    late the event loop wakes it up. Returns the worst lateness seen."""
    async with service_factory() as service:  # type: ignore[attr-defined]
        # One upload first, unmeasured: a long-running service is warm (pools started,
        # lazy imports done) by the time the next upload arrives.
        with contextlib.suppress(Exception):  # a broken service shows in the results below
            await asyncio.wait_for(service.create_thumbnail(warmup), 30)
        lags: list[float] = []
        done = asyncio.Event()

        async def heartbeat() -> None:
            while not done.is_set():
                started = time.perf_counter()
                await asyncio.sleep(HEARTBEAT_PERIOD)
                lags.append(time.perf_counter() - started - HEARTBEAT_PERIOD)

        beat = asyncio.create_task(heartbeat())
        await asyncio.sleep(HEARTBEAT_PERIOD * 4)
        started = time.perf_counter()
        jobs: list[Awaitable[bytes]] = [service.create_thumbnail(data) for data in uploads]
        try:
            results = await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), 30)
        finally:
            elapsed = time.perf_counter() - started
            done.set()
            await beat
    return LagRun(max_lag=max(lags, default=0.0), elapsed=elapsed, results=list(results))
