"""Check: thumbnails keep their promised size, aspect ratio, format, quality and look.

Uploads are made here and sent to the candidate's service in its host; the JPEG bytes it returns
are decoded here and compared with a direct Lanczos resize made here. The JPEG's quality is read
from its quantization table, which the encoder derives from the quality setting alone (legitimate
speed-ups such as draft decoding do not change it). A second service, built with other bounds
and another quality (drawn per run), must follow them: they are its public API.
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
    luminance_table,
    make_image,
    mean_difference,
    open_thumbnail,
    quality_table,
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
    (3, 1500, "PNG", "RGB"),  # a divider line: scaled, it is less than a pixel wide, so 1
    (1500, 2, "JPEG", "L"),  # a horizontal rule: scaled, it is less than a pixel high, so 1
]
# Uploads for the service built with other bounds and quality (ThumbnailService(bounds=...,
# quality=...)): a landscape photo, a tall screenshot.
CUSTOM_CASES = [(1200, 800, "JPEG", "RGB"), (600, 1800, "PNG", "RGBA")]


def expected_size(width: int, height: int, bounds: tuple[int, int] = BOUNDS) -> tuple[int, int]:
    scale = min(bounds[0] / width, bounds[1] / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def direct_thumbnail(
    data: bytes, bounds: tuple[int, int] = BOUNDS, quality: int = JPEG_QUALITY
) -> Image.Image:
    """The thumbnail the brief describes, made synchronously with Pillow and decoded again."""
    with Image.open(io.BytesIO(data)) as upload:
        upload.load()
        image = upload.convert("RGB")
        resized = image.resize(expected_size(*image.size, bounds), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    resized.save(out, format="JPEG", quality=quality)
    with Image.open(out) as encoded:
        return encoded.convert("RGB")


def _thumbnails(driver: ServiceHost, uploads: list, expect, **options) -> tuple[list, list]:
    """Every upload thumbnailed at once by ``async with ThumbnailService(**options)``; the
    expected thumbnails (``expect(data)``) are made here meanwhile."""
    manager, service = driver.open_service(**options)
    try:
        pending = [service.create_thumbnail.start(data) for *_, data in uploads]
        expected = [expect(data) for *_, data in uploads]  # while the host works
        return collect(pending, BATCH_SECONDS), expected
    finally:
        driver.close_service(manager)


def test_thumbnails_are_correct(evidence, candidate, photo_jpeg, variant):
    # Other bounds (landscape, smaller than the default) and quality, drawn per run.
    custom_bounds = (variant.randrange(120, 181), variant.randrange(60, 111))
    custom_quality = variant.choice([q for q in range(55, 96, 5) if q != JPEG_QUALITY])
    with ThreadPoolExecutor(1) as pool:
        connecting = pool.submit(ServiceHost, candidate)  # the host imports meanwhile
        uploads = [(w, h, fmt, mode, make_image(w, h, fmt, mode)) for w, h, fmt, mode in CASES]
        uploads.append((4000, 3000, "JPEG", "RGB", photo_jpeg))
        custom = [(w, h, f, mode, make_image(w, h, f, mode)) for w, h, f, mode in CUSTOM_CASES]
        driver = connecting.result()

    results, expected = _thumbnails(driver, uploads, direct_thumbnail)
    custom_results, custom_expected = _thumbnails(
        driver,
        custom,
        lambda data: direct_thumbnail(data, custom_bounds, custom_quality),
        bounds=custom_bounds,
        quality=custom_quality,
    )
    tables = {quality: quality_table(quality) for quality in (JPEG_QUALITY, custom_quality)}
    made_by = f" (bounds={custom_bounds}, quality={custom_quality})"
    settings = [(BOUNDS, JPEG_QUALITY, "")] * len(uploads)
    settings += [(custom_bounds, custom_quality, made_by)] * len(custom)

    worst = 0.0
    problems = []
    for (width, height, fmt, mode, _), result, reference, (bounds, quality, service) in zip(
        uploads + custom,
        results + custom_results,
        expected + custom_expected,
        settings,
        strict=True,
    ):
        case = f"{width}x{height} {fmt} {mode}{service}"
        if not isinstance(result, bytes):
            problems.append(f"{case}: {describe(result)}, not JPEG bytes")
            continue
        opened = open_thumbnail(result)
        if opened is None:
            problems.append(f"{case}: output is not a readable image")
            continue
        fmt_out, size_out, pixels = opened
        want = expected_size(width, height, bounds)
        if fmt_out != "JPEG":
            problems.append(f"{case}: output is {fmt_out}, expected JPEG")
        elif luminance_table(result) != tables[quality]:
            problems.append(f"{case}: the JPEG was not encoded with quality {quality}")
        off_by = max(abs(size_out[0] - want[0]), abs(size_out[1] - want[1]))
        # A side that fills its bound, or keeps its size, is exact: rounding moves the other,
        # except below a pixel, where the side is 1 (rounded or not, it cannot be 0 or 2).
        scale = min(bounds[0] / width, bounds[1] / height, 1.0)
        exact = [
            i
            for i in (0, 1)
            if want[i] in (bounds[i], (width, height)[i]) or (width, height)[i] * scale < 1
        ]
        inexact = any(size_out[i] != want[i] for i in exact)
        if off_by > 1 or inexact or size_out[0] > bounds[0] or size_out[1] > bounds[1]:
            problems.append(
                f"{case}: thumbnail is {size_out[0]}x{size_out[1]}, expected {want[0]}x{want[1]}"
            )
            continue
        if pixels is None:
            problems.append(f"{case}: the thumbnail's pixels could not be read")
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
    made = len(uploads) + len(custom)
    evidence.metric("wrong_thumbnails", len(problems), limit=0, label=f"wrong thumbnails of {made}")
    if problems:
        pytest.fail(f"{len(problems)} of {made} thumbnails wrong: " + "; ".join(problems))
