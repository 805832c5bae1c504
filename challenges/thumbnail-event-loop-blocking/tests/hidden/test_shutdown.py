"""Check: ``aclose()`` releases what the service holds.

The service is created once per process and closed on shutdown; the brief asks that whatever a
fix holds (a thread pool, a process pool) is released in ``aclose()``. The host's threads and
child processes are listed before a service is opened and again after ``async with`` has closed
it; anything the service started must be gone within a few seconds. Left out: the loop's own
default executor (the ``asyncio_`` threads that ``asyncio.to_thread`` and
``run_in_executor(None, ...)`` use), which belongs to the loop, not to the service, and the
host's own threads (its loop thread and the workers that answer the judge's calls, started on
demand while the service runs).
"""

from __future__ import annotations

import re
import time
from collections import Counter

from faultline_harness.judge import Call, HostClient, HostFailure, RemoteError
from hidden_support import CALL_SECONDS, ServiceHost, collect, describe

SETTLE_SECONDS = 5.0
"""How long threads and processes may take to finish after ``aclose()`` returned."""
NOT_THE_SERVICES = re.compile(r"asyncio_\d+|host-loop|host_\d+")
"""Threads of the loop's default executor and of the host itself (see faultline_harness.host)."""


class Census:
    """The host's running threads (by name) and live child processes."""

    def __init__(self, host: HostClient) -> None:
        self.host = host
        builtins = host.module("builtins")
        self.sorted, self.map, self.len = builtins.sorted, builtins.map, builtins.len
        self.name_of = Call(host.module("operator").attrgetter, "name")
        self.threads = host.module("threading").enumerate
        self.children = host.module("multiprocessing").active_children

    def take(self) -> tuple[Counter[str], int]:
        names, children = self.host.batch(
            [
                Call(self.sorted, Call(self.map, self.name_of, Call(self.threads))),
                Call(self.len, Call(self.children)),
            ]
        )
        for answer in (names, children):
            if isinstance(answer, RemoteError):
                raise AssertionError(f"listing the host's threads failed: {describe(answer)}")
        owned = [_plain(name) for name in names if not NOT_THE_SERVICES.fullmatch(str(name))]
        return Counter(owned), int(children)


def _plain(name: object) -> str:
    """A thread's name as an identifier only: the rest of its text is the candidate's."""
    return re.sub(r"[^A-Za-z0-9_.-]", "", str(name))[:40] or "unnamed"


def test_aclose_releases_what_the_service_started(evidence, candidate, small_jpeg):
    census = Census(candidate)
    driver = ServiceHost(candidate)
    threads_before, children_before = census.take()
    try:
        manager, service = driver.open_service()
        try:
            # whatever the thumbnails are (other checks judge them), the service has run
            collect([service.create_thumbnail.start(small_jpeg) for _ in range(6)], CALL_SECONDS)
        finally:
            driver.close_service(manager)
    except (RemoteError, HostFailure) as error:
        raise AssertionError(f"the service failed: {describe(error)}") from None

    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        threads, children = census.take()
        extra_threads = threads - threads_before
        extra_children = max(0, children - children_before)
        if (not extra_threads and not extra_children) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    left = sum(extra_threads.values()) + extra_children
    evidence.metric(
        "left_running_after_aclose",
        left,
        unit="threads and processes",
        limit=0,
        label=f"threads and child processes still running {SETTLE_SECONDS:g} s after aclose()",
    )
    named = ", ".join(f"{name} x{count}" for name, count in sorted(extra_threads.items()))
    assert left == 0, (
        f"{SETTLE_SECONDS:g} s after `async with ThumbnailService()` closed, "
        f"{sum(extra_threads.values())} threads it started ({named or 'none'}) and "
        f"{extra_children} child processes were still running: release them in aclose()"
    )
