"""Check: bad uploads are rejected cleanly and the service keeps serving."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

TIMEOUT = 30  # seconds; a hung or broken service fails instead of stalling the suite


def corrupt_uploads(valid_jpeg: bytes, valid_png: bytes) -> dict[str, bytes]:
    broken_png = bytearray(valid_png)
    broken_png[60:64] = b"\xff\xff\xff\xff"
    gif = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(gif, format="GIF")
    return {
        "empty": b"",
        "not an image": b"%PDF-1.7 " + b"\x00garbage" * 200,
        "truncated JPEG": valid_jpeg[: len(valid_jpeg) // 2],
        "truncated PNG": valid_png[: len(valid_png) // 2],
        "PNG with a broken chunk": bytes(broken_png),
        "GIF (not accepted)": gif.getvalue(),
    }


def test_bad_uploads_rejected_and_service_keeps_serving(evidence, small_jpeg):
    import thumbnails
    import uploads

    png = io.BytesIO()
    Image.open(io.BytesIO(small_jpeg)).save(png, format="PNG", compress_level=1)
    valid_png = png.getvalue()
    corrupt = corrupt_uploads(small_jpeg, valid_png)
    problems: list[str] = []

    async def run() -> None:
        async with thumbnails.ThumbnailService() as service:
            # One at a time: each bad upload raises the documented error.
            for name, data in corrupt.items():
                try:
                    await asyncio.wait_for(service.create_thumbnail(data), TIMEOUT)
                except thumbnails.InvalidImageError:
                    pass
                except Exception as exc:
                    problems.append(f"{name}: raised {type(exc).__name__}: {exc}")
                else:
                    problems.append(f"{name}: accepted instead of InvalidImageError")

            # Mixed with good uploads, all at once: every good one still completes.
            batch = [small_jpeg, *corrupt.values(), valid_png, small_jpeg, valid_png]
            outcomes = await asyncio.wait_for(
                asyncio.gather(
                    *(service.create_thumbnail(data) for data in batch), return_exceptions=True
                ),
                TIMEOUT,
            )
            for data, outcome in zip(batch, outcomes, strict=True):
                good = data in (small_jpeg, valid_png)
                if good and not (isinstance(outcome, bytes) and outcome[:2] == b"\xff\xd8"):
                    problems.append(f"good upload in a mixed batch failed: {outcome!r:.200}")
                if not good and not isinstance(outcome, thumbnails.InvalidImageError):
                    problems.append(f"bad upload in a mixed batch gave {outcome!r:.200}")

            # The HTTP layer maps the error to 422 and goes on serving.
            app = uploads.UploadService(service)
            rejected = await asyncio.wait_for(app.upload("bad", corrupt["truncated JPEG"]), TIMEOUT)
            accepted = await asyncio.wait_for(app.upload("good", small_jpeg), TIMEOUT)
            health = await asyncio.wait_for(app.health(), TIMEOUT)
            if (rejected.status, accepted.status, health.status) != (422, 201, 200):
                problems.append(
                    "upload service answered "
                    f"{rejected.status}/{accepted.status}/{health.status}, expected 422/201/200"
                )

    try:
        asyncio.run(run())
    except Exception as exc:
        problems.append(f"service failed: {type(exc).__name__}: {exc}")

    # A fresh event loop afterwards still works (nothing left half-closed by the service).
    async def fresh() -> bytes:
        async with thumbnails.ThumbnailService() as service:
            return await asyncio.wait_for(service.create_thumbnail(small_jpeg), TIMEOUT)

    try:
        asyncio.run(fresh())
    except Exception as exc:
        problems.append(f"service unusable on a new event loop: {type(exc).__name__}: {exc}")

    evidence.metric("robustness_problems", len(problems), limit=0, label="problems found")
    if problems:
        pytest.fail(f"{len(problems)} problem(s): " + "; ".join(problems))
