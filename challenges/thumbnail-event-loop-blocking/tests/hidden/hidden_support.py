"""Judge-side helpers for the hidden checks.

This process is the judge: it never imports the candidate's modules. Uploads are made here with
Pillow and sent to a candidate host as bytes; thumbnails come back as bytes and are decoded here.
The host's event loop is the candidate's loop: how responsive it stays is measured here, as the
latency of health checks sent through it while thumbnails are made.
"""

from __future__ import annotations

import io
import random
import statistics
import threading
import time
from concurrent.futures import Future, wait
from dataclasses import dataclass, field
from typing import Any

from faultline_harness.judge import (
    Call,
    HostClient,
    HostFailure,
    HostTimeout,
    Member,
    Remote,
    RemoteError,
)
from PIL import Image, ImageChops, ImageStat

# Pillow allocates decoded images in blocks (16 MB by default). glibc's malloc raises its mmap
# threshold after the first large free, so later 16 MB blocks come from the heap and calloc
# zeroes them with a memset while the GIL is held: ~15 ms per 12 MP image, an allocator artefact
# that would blur the loop lag of a correct thread-pool fix. One block per image (48 MB, above
# glibc's largest dynamic threshold) keeps those allocations fresh mmaps. Set in every host,
# starter and candidate alike, before their modules are imported.
BLOCK_SIZE = 64 * 1024 * 1024

CALL_SECONDS = 30.0  # one request to the service; a hung service fails instead of stalling
PROBE_PERIOD = 0.005  # seconds between health checks, each sent without waiting for the last
IDLE_PROBES = 15  # health checks on the idle loop, one at a time: their median is subtracted
# The lag is the STALL_PROBES-th slowest health check: a stalled loop holds up every check sent
# while it is stalled (one every PROBE_PERIOD), while the machine's scheduler can hold up one
# or two checks on their way through the judge's and the host's threads.
STALL_PROBES = 4
MAX_IN_FLIGHT = 16  # checks waiting for an answer; no more are sent until one is answered
SHOWN_CHARS = 60  # of a class name the candidate chose
# Mean absolute difference per channel (0-255) a thumbnail may have from the expected one. Loose
# enough for legitimate speed-ups (JPEG draft decoding, a reducing_gap, a one-pixel rounding
# difference), tight enough for wrong or broken images.
MAX_MEAN_PIXEL_DIFF = 8.0
MAX_THUMBNAIL_SIDE = 1000  # pixels: a returned image larger than this is not decoded


def make_images(
    width: int, height: int, formats: tuple[str, ...], mode: str = "RGB", seed: object = None
) -> list[bytes]:
    """One synthetic photo (smooth gradients plus soft noise, seeded by ``seed``, else by its
    size) encoded in each of ``formats``."""
    small = (max(1, width // 8), max(1, height // 8))
    noise_source = random.Random(f"{width}x{height}" if seed is None else seed)
    noise = Image.frombytes("L", small, noise_source.randbytes(small[0] * small[1]))
    bands = [
        Image.linear_gradient("L").resize((width, height)),
        Image.radial_gradient("L").resize((width, height)),
        noise.resize((width, height), Image.Resampling.BICUBIC),
    ]
    image = Image.merge("RGB", bands)
    if mode != "RGB":
        image = image.convert(mode)
    encoded = []
    for fmt in formats:
        out = io.BytesIO()
        if fmt == "JPEG":
            image.save(out, format="JPEG", quality=90)
        else:
            image.save(out, format=fmt, compress_level=1)
        encoded.append(out.getvalue())
    return encoded


def make_image(width: int, height: int, fmt: str, mode: str = "RGB") -> bytes:
    """A synthetic photo encoded as ``fmt``."""
    return make_images(width, height, (fmt,), mode)[0]


def describe(outcome: Any) -> str:
    """What a request gave instead of a thumbnail, in the judge's words: an exception by its
    class name only (its message is the candidate's text)."""
    if isinstance(outcome, RemoteError):
        name = outcome.type_name
        return f"raised {name if len(name) <= SHOWN_CHARS else name[:SHOWN_CHARS] + '…'}"
    if isinstance(outcome, HostTimeout):
        return "gave no answer in time"
    if isinstance(outcome, HostFailure):
        return "gave no answer: the host went away"
    if isinstance(outcome, bytes):
        return f"returned {len(outcome)} bytes"
    if isinstance(outcome, Remote):
        return "returned an object that is not bytes"
    return f"returned a {type(outcome).__name__}"


def luminance_table(data: bytes) -> list[int] | None:
    """The luminance quantization table of the JPEG ``data`` (what its quality setting chose),
    or None if it has none."""
    try:
        with Image.open(io.BytesIO(data)) as produced:
            tables = getattr(produced, "quantization", None) or {}
            table = tables.get(0)
            return None if table is None else [int(value) for value in table]
    except Exception:
        return None


def quality_table(quality: int) -> list[int]:
    """The luminance quantization table Pillow writes for a JPEG of ``quality``."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "gray").save(out, format="JPEG", quality=quality)
    table = luminance_table(out.getvalue())
    assert table is not None
    return table


def open_thumbnail(data: bytes) -> tuple[str, tuple[int, int], Image.Image | None] | None:
    """Format, size and RGB pixels of the image ``data`` (None if it cannot be read). Pixels
    are decoded only for a thumbnail-sized image: the bytes are the candidate's."""
    try:
        with Image.open(io.BytesIO(data)) as produced:
            fmt, size = str(produced.format), produced.size
            if size[0] > MAX_THUMBNAIL_SIDE or size[1] > MAX_THUMBNAIL_SIDE:
                return fmt, size, None
            produced.load()
            return fmt, size, produced.convert("RGB")
    except Exception:
        return None


def mean_difference(produced: Image.Image, expected: Image.Image) -> float:
    """Mean absolute difference per channel (0-255); a size one pixel off is resampled first."""
    if produced.size != expected.size:
        produced = produced.resize(expected.size, Image.Resampling.LANCZOS)
    diff = ImageStat.Stat(ImageChops.difference(produced, expected)).mean
    return sum(diff) / len(diff)


def collect(pending: list[Any], seconds: float) -> list[Any]:
    """The answers of calls started together, all within ``seconds``: each is the result, or
    the RemoteError or HostFailure (a timeout, a host that went away) it gave instead."""
    deadline = time.perf_counter() + seconds
    results: list[Any] = []
    for answer in pending:
        try:
            results.append(answer.result(max(0.001, deadline - time.perf_counter())))
        except (RemoteError, HostFailure) as error:
            results.append(error)
    return results


class ServiceHost:
    """The ``thumbnails`` and ``uploads`` modules of one host, driven from the judge."""

    def __init__(self, host: HostClient) -> None:
        self.host = host
        host.module("PIL._imaging").set_block_size(BLOCK_SIZE)
        self.thumbnails = host.module("thumbnails")
        self.uploads = host.module("uploads")
        self.asdict = host.module("dataclasses").asdict

    def hold(self, uploads: list[bytes]) -> list[Remote]:
        """Send ``uploads`` to the host ahead of time; ``Call(held)`` is the bytes there.

        A 12 MP upload is megabytes on the wire: decoding it in the host would hold the host's
        GIL, so it is sent before anything is timed (each distinct upload once).
        """
        cells: dict[int, Remote] = {}
        return [cells.setdefault(id(data), self.host.cell(data)) for data in uploads]

    def open_service(self, **options: Any) -> tuple[Remote, Remote]:
        """``async with ThumbnailService(**options) as service``, on the candidate's loop: the
        object constructed (for ``__aexit__``) and what ``__aenter__`` returned (the service)."""
        manager = self.thumbnails.ThumbnailService.on_loop(**options)
        service = Member(manager, "__aenter__").start().result(CALL_SECONDS)
        if not isinstance(service, Remote):
            raise AssertionError(
                "`async with ThumbnailService() as service` gave plain data as the service"
            )
        return manager, service

    @staticmethod
    def close_service(manager: Remote) -> None:
        Member(manager, "__aexit__").start(None, None, None).result(CALL_SECONDS)

    @staticmethod
    def thumbnail(service: Remote, upload: Any) -> bytes | RemoteError | HostFailure:
        """``await service.create_thumbnail(upload)``: the bytes, or what went wrong."""
        try:
            return service.create_thumbnail.start(upload).result(CALL_SECONDS)
        except (RemoteError, HostFailure) as error:
            return error

    def status(self, call: Call) -> int | str:
        """The status of an ``UploadService`` response (or what went wrong instead)."""
        try:
            response = self.asdict.start(call).result(CALL_SECONDS)
        except (RemoteError, HostFailure) as error:
            return describe(error)
        if isinstance(response, dict) and isinstance(response.get("status"), int):
            return response["status"]
        return "returned a response without a status"


@dataclass
class LagRun:
    stall: float  # seconds: latency of the STALL_PROBES-th slowest health check in the batch
    idle: float  # seconds: median latency of a health check on the idle loop
    elapsed: float  # seconds: the whole batch, first request sent to last thumbnail back
    probes: int  # health checks answered while the batch was in flight
    results: list[Any] = field(default_factory=list)  # bytes, or what went wrong
    probe_problem: str = ""

    def lag(self, idle: float | None = None) -> float:
        """How much later than on an idle loop (this one's, or ``idle``) checks were answered."""
        return max(0.0, self.stall - (self.idle if idle is None else idle))


def _future(answer: Any) -> Future:
    """The concurrent.futures.Future behind what ``Member.start`` returned."""
    return answer if isinstance(answer, Future) else answer.future


class _Prober(threading.Thread):
    """Sends a health check through the host's loop every ``PROBE_PERIOD`` seconds, without
    waiting for the answers, and times each one from its sending to its answer's arrival."""

    def __init__(self, driver: ServiceHost, app: Remote) -> None:
        super().__init__(name="health-prober", daemon=True)
        self.driver, self.app = driver, app
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.sent: list[Future] = []
        self.answered = 0
        self.problem = ""

    def send_one(self) -> Future:
        sent = time.perf_counter()
        future = _future(self.driver.asdict.start(Call(self.app.health)))
        future.add_done_callback(lambda answered: self._answered(sent, answered))
        self.sent.append(future)
        return future

    def _answered(self, sent: float, future: Future) -> None:
        took = time.perf_counter() - sent  # in the judge's reader thread, as the answer lands
        error = future.exception()
        response = None if error is not None else future.result()
        with self.lock:
            self.latencies.append(took)
            self.answered += 1
            if error is not None:
                self.problem = self.problem or describe(error)
            elif not (isinstance(response, dict) and response.get("status") == 200):
                self.problem = self.problem or "a health check was not answered with 200"

    def run(self) -> None:
        due = time.perf_counter()
        while not self.stop.is_set():
            if len(self.sent) - self.answered < MAX_IN_FLIGHT:
                self.send_one()
            due = max(due + PROBE_PERIOD, time.perf_counter())
            self.stop.wait(due - time.perf_counter())

    def finish(self, seconds: float) -> list[float]:
        """Stop sending and wait for every answer; the latencies, in order of arrival."""
        self.stop.set()
        if self.is_alive():
            self.join(seconds)
        _, late = wait(self.sent, seconds)
        if late:
            self.problem = self.problem or f"{len(late)} health checks were never answered"
        with self.lock:
            return list(self.latencies)


class OpenService:
    """``async with ThumbnailService() as service`` in a host, with an ``UploadService`` for
    its health checks; warmed up by one upload, as a long-running service is by the time the
    next upload arrives (pools started, lazy imports done)."""

    def __init__(self, driver: ServiceHost, warmup: bytes) -> None:
        self.driver = driver
        self.manager, self.service = driver.open_service()
        try:
            self.app = driver.uploads.UploadService(self.service)
            driver.thumbnail(self.service, warmup)  # a broken service shows in the results
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.driver.close_service(self.manager)


def measure_loop_lag(opened: OpenService, uploads: list[Remote]) -> LagRun:
    """Thumbnail ``uploads`` concurrently on the host's loop while health checks are sent
    through the same loop; returns how much later than on the idle loop they were answered."""
    driver, service = opened.driver, opened.service
    idle_prober = _Prober(driver, opened.app)
    for _ in range(IDLE_PROBES):
        idle_prober.send_one().result(CALL_SECONDS)
        time.sleep(PROBE_PERIOD)
    idle = statistics.median(idle_prober.finish(CALL_SECONDS))

    prober = _Prober(driver, opened.app)
    prober.start()
    try:
        started = time.perf_counter()
        pending = [service.create_thumbnail.start(Call(upload)) for upload in uploads]
        results = collect(pending, CALL_SECONDS)
        elapsed = time.perf_counter() - started
    finally:
        latencies = prober.finish(CALL_SECONDS)
    worst = sorted(latencies, reverse=True)
    return LagRun(
        stall=worst[STALL_PROBES - 1] if len(worst) >= STALL_PROBES else 0.0,
        idle=idle,
        elapsed=elapsed,
        probes=len(latencies),
        results=results,
        probe_problem=idle_prober.problem or prober.problem,
    )
