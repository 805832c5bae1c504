"""Check: bad uploads are rejected cleanly and the service keeps serving.

Each upload is sent to the candidate's service in its host. A rejection arrives here as the
candidate's exception, known by its class name only; whether it is an ``InvalidImageError`` (or
a subclass) is asked of the read-only HTTP layer, ``uploads.py``, which answers 422 for exactly
those: every rejected upload is sent through it as well.
"""

from __future__ import annotations

import io

import pytest
from faultline_harness.judge import Call, HostFailure, RemoteError
from hidden_support import CALL_SECONDS, ServiceHost, collect, describe
from PIL import Image


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


def is_jpeg(outcome: object) -> bool:
    return isinstance(outcome, bytes) and outcome[:2] == b"\xff\xd8"


def test_bad_uploads_rejected_and_service_keeps_serving(evidence, candidate, small_jpeg):
    png = io.BytesIO()
    Image.open(io.BytesIO(small_jpeg)).save(png, format="PNG", compress_level=1)
    valid_png = png.getvalue()
    corrupt = corrupt_uploads(small_jpeg, valid_png)
    problems: list[str] = []
    driver = ServiceHost(candidate)

    def rejection_problem(outcome: object, data: bytes, app) -> str | None:
        """What is wrong with how a bad upload was turned down (None: InvalidImageError)."""
        if isinstance(outcome, bytes):
            return "accepted instead of InvalidImageError"
        if not isinstance(outcome, RemoteError):
            return describe(outcome)
        status = driver.status(Call(app.upload, "rejected", data))
        if isinstance(status, int) and status != 422:
            return f"{describe(outcome)}, and the HTTP layer answered {status}, not 422"
        if not isinstance(status, int):
            return f"{describe(outcome)}, and the HTTP layer {status} instead of answering 422"
        return None

    try:
        manager, service = driver.open_service()
        try:
            app = driver.uploads.UploadService(service)

            # One at a time: each bad upload raises the documented error.
            for name, data in corrupt.items():
                problem = rejection_problem(driver.thumbnail(service, data), data, app)
                if problem:
                    problems.append(f"{name}: {problem}")

            # Mixed with good uploads, all at once: every good one still completes.
            batch = [small_jpeg, *corrupt.values(), valid_png, small_jpeg, valid_png]
            outcomes = collect(
                [service.create_thumbnail.start(data) for data in batch], CALL_SECONDS
            )
            for data, outcome in zip(batch, outcomes, strict=True):
                good = data in (small_jpeg, valid_png)
                if good and not is_jpeg(outcome):
                    problems.append(f"good upload in a mixed batch: {describe(outcome)}")
                problem = None if good else rejection_problem(outcome, data, app)
                if problem:
                    problems.append(f"bad upload in a mixed batch: {problem}")

            # The HTTP layer maps the error to 422 and goes on serving.
            statuses = (
                driver.status(Call(app.upload, "bad", corrupt["truncated JPEG"])),
                driver.status(Call(app.upload, "good", small_jpeg)),
                driver.status(Call(app.health)),
            )
            if statuses != (422, 201, 200):
                problems.append(
                    "upload service answered "
                    + "/".join(str(status) for status in statuses)
                    + ", expected 422/201/200"
                )
        finally:
            driver.close_service(manager)
    except (RemoteError, HostFailure) as error:
        problems.append(f"the service: {describe(error)}")

    # A new service after the first one was closed still works (nothing the service shares
    # was left half-closed by its aclose()).
    try:
        manager, service = driver.open_service()
        try:
            outcome = driver.thumbnail(service, small_jpeg)
        finally:
            driver.close_service(manager)
        if not is_jpeg(outcome):
            problems.append(f"a new service after a closed one: {describe(outcome)}")
    except (RemoteError, HostFailure) as error:
        problems.append(f"a new service after a closed one: {describe(error)}")

    evidence.metric("robustness_problems", len(problems), limit=0, label="problems found")
    if problems:
        pytest.fail(f"{len(problems)} problem(s): " + "; ".join(problems))
