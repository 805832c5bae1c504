"""Traffic, a fake clock and trace analysis shared by the hidden checks.

Every check drives the limiter through ``api.handle_request`` (or ``RateLimiter.hit``) with a
fake clock, records what each response said, and judges the *trace*: the verdicts and headers
are compared with what the contract says they must be given the requests the limiter actually
admitted. Nothing here looks at the limiter's internals.
"""

from __future__ import annotations

import heapq
import random
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType

import api

LIMIT = 100
WINDOW = 60.0
EPOCH = 1_800_000_000.0
"""A wall-clock time on a minute boundary (2027-01-15 08:00 UTC). All request times are exact
binary fractions (multiples of 1/64 s), so comparisons at the edge of the window are exact."""


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = EPOCH) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def new_limiter(module: ModuleType, clock: Callable[[], float]):
    return module.RateLimiter(limit=LIMIT, window_seconds=WINDOW, clock=clock)


@dataclass(frozen=True)
class Reply:
    at: float
    key: str
    status: int
    remaining: int | None
    retry_after: int | None  # None when the header is missing or not a whole number
    raw_retry_after: str | None


def _int_header(headers: dict[str, str], name: str) -> tuple[int | None, str | None]:
    raw = headers.get(name)
    if raw is None:
        return None, None
    try:
        return int(raw), raw
    except ValueError:
        return None, raw


def send(limiter, clock: FakeClock, at: float, key: str) -> Reply:
    clock.now = at
    request = api.Request("GET", "/v1/products", {"X-API-Key": key})
    response = api.handle_request(limiter, request)
    remaining, _ = _int_header(response.headers, "X-RateLimit-Remaining")
    retry_after, raw = _int_header(response.headers, "Retry-After")
    return Reply(at, key, response.status, remaining, retry_after, raw)


# --- clients --------------------------------------------------------------------------------


class Client:
    """Sends requests for one API key; ``first()`` and ``after()`` give the next request time."""

    def __init__(self, key: str) -> None:
        self.key = key

    def first(self) -> float | None:
        raise NotImplementedError

    def after(self, reply: Reply) -> float | None:
        raise NotImplementedError


class Scripted(Client):
    """Sends at fixed times, whatever the answers (a batch job, a retry loop without backoff)."""

    def __init__(self, key: str, times: Iterable[float]) -> None:
        super().__init__(key)
        self._times = sorted(times)
        self._next = 0

    def first(self) -> float | None:
        return self._pop()

    def after(self, reply: Reply) -> float | None:
        return self._pop()

    def _pop(self) -> float | None:
        if self._next >= len(self._times):
            return None
        self._next += 1
        return self._times[self._next - 1]


class Polite(Client):
    """Sends every ``gap`` seconds; after a 429 it waits ``Retry-After`` seconds, as SDKs do."""

    def __init__(self, key: str, start: float, gap: float, until: float) -> None:
        super().__init__(key)
        self._start, self._gap, self._until = start, gap, until

    def first(self) -> float | None:
        return self._start

    def after(self, reply: Reply) -> float | None:
        if reply.status == 429:
            wait = reply.retry_after if reply.retry_after and reply.retry_after > 0 else 60
            at = reply.at + wait
        else:
            at = reply.at + self._gap
        return at if at <= self._until else None


def run(limiter, clock: FakeClock, clients: list[Client]) -> list[Reply]:
    """Play the clients against ``limiter`` in time order (ties in client order)."""
    queue: list[tuple[float, int, int]] = []
    sequence = 0
    for index, client in enumerate(clients):
        at = client.first()
        if at is not None:
            heapq.heappush(queue, (at, sequence, index))
            sequence += 1
    trace: list[Reply] = []
    while queue:
        at, _, index = heapq.heappop(queue)
        client = clients[index]
        reply = send(limiter, clock, at, client.key)
        trace.append(reply)
        following = client.after(reply)
        if following is not None:
            heapq.heappush(queue, (following, sequence, index))
            sequence += 1
    return trace


def _grid(start: float, step: float, count: int) -> list[float]:
    return [EPOCH + start + step * number for number in range(count)]


def mixed_traffic(seed: int = 5) -> list[Client]:
    """Five minutes of traffic from clients that go over the limit in different ways."""
    rng = random.Random(seed)
    clients: list[Client] = [
        # The incident: a nightly sync that fires at the end of a minute and again just after.
        Scripted(
            "key-acme-sync",
            _grid(58.0, 1 / 64, 100)
            + _grid(60.0, 1 / 64, 100)
            + _grid(178.0, 1 / 64, 100)
            + _grid(180.0, 1 / 64, 100),
        ),
        # One request, a burst 45 s later, then polling: catches windows anchored at first use.
        Scripted(
            "key-poller",
            [EPOCH + 5.25, *_grid(50.25, 1 / 64, 99), *_grid(51.0, 0.25, 320)],
        ),
        # A retry loop without backoff, four requests a second for four minutes.
        Scripted("key-hammer", _grid(0.125, 0.25, 960)),
        # A burst, then polling twice a second: catches refilling buckets.
        Scripted("key-burst", _grid(10.0, 1 / 64, 100) + _grid(12.0, 0.5, 376)),
        # Random arrivals, about three a second.
        Scripted(
            "key-random",
            sorted(EPOCH + round(rng.uniform(0.0, 290.0) * 64) / 64 for _ in range(870)),
        ),
        # SDK clients that honour Retry-After.
        Polite("key-sdk-fast", EPOCH + 0.375, 0.375, EPOCH + 300.0),
        Polite("key-sdk-slow", EPOCH + 20.5, 0.625, EPOCH + 300.0),
        Polite("key-sdk-bursty", EPOCH + 33.0, 1 / 16, EPOCH + 300.0),
    ]
    return clients


# --- judging a trace ------------------------------------------------------------------------


@dataclass
class Verdicts:
    """A trace judged against the contract, request by request."""

    requests: int = 0
    refused: int = 0
    worst_span: dict[str, int] = field(default_factory=dict)  # most admitted in any 60 s, per key
    refused_below_limit: list[Reply] = field(default_factory=list)
    wrong_retry_after: list[tuple[Reply, float]] = field(default_factory=list)  # (reply, wait)
    wrong_remaining: list[tuple[Reply, int]] = field(default_factory=list)  # (reply, expected)
    other_status: list[Reply] = field(default_factory=list)

    @property
    def worst(self) -> tuple[str, int]:
        key = max(self.worst_span, key=lambda k: self.worst_span[k])
        return key, self.worst_span[key]


def judge(trace: list[Reply]) -> Verdicts:
    verdicts = Verdicts(requests=len(trace))
    counted: dict[str, deque[float]] = defaultdict(deque)  # admitted in the last 60 s, per key
    admitted_at: dict[str, list[float]] = defaultdict(list)
    for reply in trace:
        window = counted[reply.key]
        while window and window[0] <= reply.at - WINDOW:
            window.popleft()
        used = len(window)
        if reply.status == 200:
            window.append(reply.at)
            admitted_at[reply.key].append(reply.at)
            expected = max(0, LIMIT - used - 1)
            if reply.remaining != expected:
                verdicts.wrong_remaining.append((reply, expected))
        elif reply.status == 429:
            verdicts.refused += 1
            if reply.remaining != 0:
                verdicts.wrong_remaining.append((reply, 0))
            if used < LIMIT:
                verdicts.refused_below_limit.append(reply)
                continue
            # A slot frees when enough admitted requests have left the window to go below it.
            wait = window[used - LIMIT] + WINDOW - reply.at
            if reply.retry_after is None or not wait <= reply.retry_after <= wait + 1:
                verdicts.wrong_retry_after.append((reply, wait))
        else:
            verdicts.other_status.append(reply)
    for key, times in admitted_at.items():
        verdicts.worst_span[key] = _most_in_any_window(times)
    return verdicts


def _most_in_any_window(times: list[float]) -> int:
    """Most of ``times`` (sorted) inside any half-open span ``[s, s + WINDOW)``."""
    best = 0
    low = 0
    for high, at in enumerate(times):
        while times[low] <= at - WINDOW:
            low += 1
        best = max(best, high - low + 1)
    return best


def offset(at: float) -> str:
    """A request time as the test's minute and second, e.g. ``00:59.53``."""
    seconds = at - EPOCH
    return f"{int(seconds // 60):02d}:{seconds % 60:05.2f}"
