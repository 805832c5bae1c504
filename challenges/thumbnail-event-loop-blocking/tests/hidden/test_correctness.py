"""Check: thumbnails keep their promised size, aspect ratio, format and look.

Uploads are made here and sent to the candidate's service in its host; the JPEG bytes it returns
are decoded here and compared with a direct Lanczos resize made here.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from hidden_support import (
    MAX_MEAN_PIXEL_DIFF,
    ServiceHost,
    collect,
    describe,
    make_image,
    mean_difference,
    open_thumbnail,
)
from PIL import Image

BOUNDS = (200, 200)
JPEG_QUALITY = 85
BATCH_SECONDS = 60.0  # the whole batch; a hung service fails instead of stalling the suite

# (width, height, format, mode) of uploads as users send them
CASES = [
    (1200, 800, "JPEG", "RGB"),  # landscape photo
    (900, 1600, "JPEG", "CMYK"),  # portrait photo from a print workflow
    (600, 1800, "PNG", "RGBA"),  # tall screenshot with transparency
    (1000, 30, "PNG", "L"),  # banner strip, grayscale
    (640, 480, "PNG", "P"),  # palette image
    (150, 100, "PNG", "RGB"),  # already small: must not be upscaled
    (200, 200, "JPEG", "RGB"),  # exactly the bounds
]


def expected_size(width: int, height: int) -> tuple[int, int]:
    scale = min(BOUNDS[0] / width, BOUNDS[1] / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def direct_thumbnail(data: bytes) -> Image.Image:
    """The thumbnail the brief describes, made synchronously with Pillow and decoded again."""
    with Image.open(io.BytesIO(data)) as upload:
        upload.load()
        image = upload.convert("RGB")
        resized = image.resize(expected_size(*image.size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    resized.save(out, format="JPEG", quality=JPEG_QUALITY)
    with Image.open(out) as encoded:
        return encoded.convert("RGB")


def test_thumbnails_are_correct(evidence, candidate, photo_jpeg):
    with ThreadPoolExecutor(1) as pool:
        connecting = pool.submit(ServiceHost, candidate)  # the host imports meanwhile
        uploads = [(w, h, fmt, mode, make_image(w, h, fmt, mode)) for w, h, fmt, mode in CASES]
        uploads.append((4000, 3000, "JPEG", "RGB", photo_jpeg))
        driver = connecting.result()

    manager, service = driver.open_service()
    try:
        pending = [service.create_thumbnail.start(data) for *_, data in uploads]
        expected = [direct_thumbnail(data) for *_, data in uploads]  # while the host works
        results = collect(pending, BATCH_SECONDS)
    finally:
        driver.close_service(manager)

    worst = 0.0
    problems = []
    for (width, height, fmt, mode, _), result, reference in zip(
        uploads, results, expected, strict=True
    ):
        case = f"{width}x{height} {fmt} {mode}"
        if not isinstance(result, bytes):
            problems.append(f"{case}: {describe(result)}, not JPEG bytes")
            continue
        opened = open_thumbnail(result)
        if opened is None:
            problems.append(f"{case}: output is not a readable image")
            continue
        fmt_out, size_out, pixels = opened
        want = expected_size(width, height)
        if fmt_out != "JPEG":
            problems.append(f"{case}: output is {fmt_out}, expected JPEG")
        off_by = max(abs(size_out[0] - want[0]), abs(size_out[1] - want[1]))
        if off_by > 1 or size_out[0] > BOUNDS[0] or size_out[1] > BOUNDS[1] or pixels is None:
            problems.append(
                f"{case}: thumbnail is {size_out[0]}x{size_out[1]}, expected {want[0]}x{want[1]}"
            )
            continue
        # Compared with a direct Lanczos resize of the upload, both encoded as JPEG.
        mean_diff = mean_difference(pixels, reference)
        worst = max(worst, mean_diff)
        if mean_diff > MAX_MEAN_PIXEL_DIFF:
            problems.append(
                f"{case}: pixels differ from a direct Lanczos resize by {mean_diff:.1f}/255 "
                f"on average (limit {MAX_MEAN_PIXEL_DIFF})"
            )

    evidence.metric(
        "worst_mean_pixel_diff",
        worst,
        unit="/255",
        limit=MAX_MEAN_PIXEL_DIFF,
        label="worst mean pixel difference from a direct Lanczos resize",
    )
    evidence.metric(
        "wrong_thumbnails", len(problems), limit=0, label=f"wrong thumbnails of {len(uploads)}"
    )
    if problems:
        pytest.fail(f"{len(problems)} of {len(uploads)} thumbnails wrong: " + "; ".join(problems))
