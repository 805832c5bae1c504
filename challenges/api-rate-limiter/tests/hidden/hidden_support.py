"""Traffic, a judge-owned clock and trace analysis shared by the hidden checks.

This process is the judge: it never imports the candidate's code. The limiter lives in a
candidate host; its clock reads a timetable in that host that the judge fills (a request's time
is its first entry throughout the request), and every request goes through the host's
``api.handle_request``. Each response comes back as plain data (status and headers) and the
judge judges the *trace*: the verdicts and headers are compared with what the contract says they
must be given the requests the limiter actually admitted. Nothing here looks at the limiter's
internals.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import re
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from faultline_harness.judge import Call, HostClient, RemoteError

LIMIT = 100
WINDOW = 60.0
EPOCH = 1_800_000_000.0
"""A wall-clock time on a minute boundary (2027-01-15 08:00 UTC). All request times are exact
binary fractions (multiples of 1/64 s), so comparisons at the edge of the window are exact."""


PATH = "/v1/products"
BATCH_CALLS = 4000  # calls per round trip: two per request (set the clock, send the request)
STREAM_MIN = 32  # this many requests or more go as a stream (two round trips, cheaper calls)
SPECULATE_SECONDS = 60.0  # traffic sent ahead of the replies at a time (see play())


class LimiterFailed(AssertionError):
    """The candidate's code raised (or answered something that is not a response).

    ``replies`` are the replies to the requests sent before the one that failed."""

    def __init__(self, message: str, replies: list[Reply] | None = None) -> None:
        super().__init__(message)
        self.replies = replies or []


def error_name(error: RemoteError) -> str:
    """The exception's type, as an identifier only (the rest of its text is the candidate's)."""
    name = re.sub(r"[^A-Za-z0-9_.]", "", error.type_name)[:60]
    return name or "an exception"


class Api:
    """Handles to a host's ``api`` and ``ratelimit`` modules; makes limiters on judge clocks."""

    def __init__(self, host: HostClient) -> None:
        self.host = host
        api = host.module("api")
        self.handle_request = api.handle_request.get()
        self.request = api.Request
        self.rate_limiter = host.module("ratelimit").RateLimiter
        operator = host.module("operator")
        # what a client reads of a response, as plain data: (status, headers)
        self.fields = operator.attrgetter("status", "headers")
        self.first = operator.getitem.get()
        self.set_item = operator.setitem.get()
        self.timetable = host.module("collections").deque
        self.partial = host.module("functools").partial
        self._requests: dict[str, Any] = {}

    def limiter(
        self, now: float = EPOCH, limit: int | None = LIMIT, window: float | None = WINDOW
    ) -> Limiter:
        """A fresh ``RateLimiter(limit=100, window_seconds=60)`` on a fresh judge clock (another
        plan with ``limit`` and ``window``; ``None`` leaves that argument to its default).

        The clock reads the first entry of a timetable (a deque in the host) that the judge
        fills: it is set to a request's time just before the request, or loaded with the times
        of many requests, one taken off before each."""
        times = self.timetable([now])
        plan = {"limit": limit, "window_seconds": window}
        plan = {name: value for name, value in plan.items() if value is not None}
        made = self.host.batch(
            [
                Call(
                    self.rate_limiter,
                    **plan,
                    clock=Call(self.partial, self.first, times, 0),  # clock() is times[0]
                ),
                Call(self.partial, self.set_item, times, 0),  # set_now(at): times[0] = at
            ]
        )
        if isinstance(made[0], RemoteError):
            arguments = "".join(f"{name}={value:g}, " for name, value in plan.items())
            raise LimiterFailed(f"RateLimiter({arguments}clock=...) raised {error_name(made[0])}")
        return Limiter(self, times, made[1], made[0])

    def requests(self, keys: Iterable[str]) -> dict[str, Any]:
        """``GET /v1/products`` with each key's ``X-API-Key``, built once in the host (a
        request is an immutable value, so every request of a key can be the same one)."""
        missing = sorted({key for key in keys if key not in self._requests})
        if missing:
            built = self.host.batch(
                [Call(self.request, "GET", PATH, {"X-API-Key": key}) for key in missing],
                chunk=BATCH_CALLS,
            )
            for key, request in zip(missing, built, strict=True):
                if isinstance(request, RemoteError):
                    raise LimiterFailed(f"api.Request(...) raised {error_name(request)}")
                self._requests[key] = request
        return self._requests


class Limiter:
    """A limiter in the host and the timetable its clock reads."""

    def __init__(self, api: Api, times: Any, set_now: Any, remote: Any) -> None:
        self.api, self.times, self.set_now, self.remote = api, times, set_now, remote
        self._asks: dict[str, Any] = {}

    def send(self, requests: list[tuple[float, str]]) -> list[Reply]:
        """``GET /v1/products`` as ``key`` at ``at`` for each ``(at, key)``, in order, in one
        host thread; the clock reads ``at`` throughout each request."""
        if len(requests) >= STREAM_MIN:
            return self._stream(requests)
        return self._batch(requests)

    def _batch(self, requests: list[tuple[float, str]]) -> list[Reply]:
        """Each request after a call that sets the clock to its time (one round trip)."""
        asks, set_now, fields = (
            self._asks_for(key for _, key in requests),
            self.set_now,
            self.api.fields,
        )
        calls: list[Call] = []
        for at, key in requests:
            calls.append(Call(set_now, at))
            calls.append(Call(fields, Call(asks[key])))
        answers = self.api.host.batch(calls, stop_on_error=True, chunk=BATCH_CALLS)
        return _replies(requests, answers[1::2])  # a batch stops at the first call that raised

    def _asks_for(self, keys: Iterable[str]) -> dict[str, Any]:
        """For each key, ``handle_request(limiter, request)`` ready to call in the host."""
        missing = sorted({key for key in keys if key not in self._asks})
        if missing:
            api = self.api
            requests = api.requests(missing)
            made = api.host.batch(
                [Call(api.partial, api.handle_request, self.remote, requests[k]) for k in missing]
            )
            self._asks.update(zip(missing, made, strict=True))
        return self._asks

    def _stream(self, requests: list[tuple[float, str]]) -> list[Reply]:
        """The times go into the timetable first; the host takes one off before each request
        (two round trips, whatever the number of requests)."""
        api = self.api
        built = api.requests(key for _, key in requests)
        self.times.extend([at for at, _ in requests])
        answers = api.host.map(
            api.fields,
            [(self.remote, built[key]) for _, key in requests],
            wrap=api.handle_request,
            before=Call(self.times.popleft),
        )
        return _replies(requests, answers)


def _replies(requests: list[tuple[float, str]], answers: list[Any]) -> list[Reply]:
    """The replies to ``requests``, or the failure of the first one without a response."""
    replies: list[Reply] = []
    for number, (at, key) in enumerate(requests):
        answer = answers[number] if number < len(answers) else None
        try:
            replies.append(_reply(at, key, answer))
        except LimiterFailed as failure:
            raise LimiterFailed(str(failure), replies) from None
    return replies


def _reply(at: float, key: str, response: Any) -> Reply:
    """A response as the client sees it: status, remaining and Retry-After."""
    if isinstance(response, RemoteError):
        raise LimiterFailed(
            f"handle_request raised {error_name(response)} for {key} at {offset(at)}"
        )
    if response is None:
        raise LimiterFailed(f"no response for {key} at {offset(at)}")
    if not (isinstance(response, tuple) and len(response) == 2 and type(response[1]) is dict):
        raise LimiterFailed(f"the response for {key} at {offset(at)} is not a Response")
    status, headers = response
    if type(status) is not int:
        status = -1
    remaining, _ = _int_header(headers, "X-RateLimit-Remaining")
    retry_after, raw = _int_header(headers, "Retry-After")
    stated_limit, _ = _int_header(headers, "X-RateLimit-Limit")
    return Reply(at, key, status, remaining, retry_after, raw, stated_limit)


@dataclass(frozen=True)
class Reply:
    at: float
    key: str
    status: int
    remaining: int | None
    retry_after: int | None  # None when the header is missing or not a whole number
    raw_retry_after: str | None = field(repr=False)  # the candidate's text: never in a message
    stated_limit: int | None = None  # X-RateLimit-Limit


def _int_header(headers: dict[str, Any], name: str) -> tuple[int | None, str | None]:
    raw = headers.get(name)
    if raw is None:
        return None, None
    if not isinstance(raw, str):
        return None, repr(raw)[:40]
    try:
        return int(raw), raw[:40]
    except ValueError:
        return None, raw[:40]


# --- clients --------------------------------------------------------------------------------


class Client:
    """Sends requests for one API key; ``first()`` and ``after()`` give the next request time."""

    reacts = False
    """Whether the next request time depends on the reply (else ``after`` ignores it)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def first(self) -> float | None:
        raise NotImplementedError

    def after(self, reply: Reply | None) -> float | None:
        raise NotImplementedError

    def earliest_after(self, at: float) -> float:
        """No request follows one sent at ``at`` before this time, whatever the reply."""
        return at


class Scripted(Client):
    """Sends at fixed times, whatever the answers (a batch job, a retry loop without backoff)."""

    def __init__(self, key: str, times: Iterable[float]) -> None:
        super().__init__(key)
        self._times = sorted(times)
        self._next = 0

    def first(self) -> float | None:
        return self._pop()

    def after(self, reply: Reply | None) -> float | None:
        return self._pop()

    def _pop(self) -> float | None:
        if self._next >= len(self._times):
            return None
        self._next += 1
        return self._times[self._next - 1]


class Polite(Client):
    """Sends every ``gap`` seconds; after a 429 it waits ``Retry-After`` seconds, as SDKs do."""

    reacts = True

    def __init__(self, key: str, start: float, gap: float, until: float) -> None:
        super().__init__(key)
        self._start, self._gap, self._until = start, gap, until

    def first(self) -> float | None:
        return self._start

    def after(self, reply: Reply | None) -> float | None:
        assert reply is not None
        if reply.status == 429:
            wait = reply.retry_after if reply.retry_after and reply.retry_after > 0 else 60
            at = reply.at + wait
        else:
            at = reply.at + self._gap
        return at if at <= self._until else None

    def earliest_after(self, at: float) -> float:
        return at + min(self._gap, 1)  # a positive Retry-After is a whole number of seconds


class Contract:
    """The answers of a limiter that keeps the contract, worked out by the judge: a prediction
    that lets the traffic be sent ahead of the replies (see :func:`play`)."""

    def __init__(self) -> None:
        self._admitted: dict[str, deque[float]] = defaultdict(deque)

    def expect(self, at: float, key: str) -> Reply:
        window = self._admitted[key]
        while window and window[0] <= at - WINDOW:
            window.popleft()
        if len(window) < LIMIT:
            window.append(at)
            return Reply(at, key, 200, LIMIT - len(window), None, None)
        retry_after = max(1, math.ceil(window[0] + WINDOW - at))
        return Reply(at, key, 429, 0, retry_after, str(retry_after))


def play(api: Api, traffic: Callable[[], list[Client]]) -> list[Reply]:
    """Play the clients ``traffic()`` makes against a fresh limiter in time order (ties in the
    order the requests were queued), as if each request waited for the one before.

    The traffic goes ahead of the replies, a minute at a time: a client that reacts to its
    replies is taken to get the answer the contract gives. Every reply that comes back is then
    checked against that guess, as far as the client's next request depends on it; if one
    differs, the traffic is played again on a fresh limiter, waiting for each reply a client
    reacts to. Either way the requests, their order and their times are those of sending one
    request at a time.
    """
    trace = _play(api.limiter(), traffic(), Contract())
    if trace is None:
        trace = _play(api.limiter(), traffic(), None)
    return trace


def run(limiter: Limiter, clients: list[Client]) -> list[Reply]:
    """Play clients that do not react to replies against ``limiter``, in time order."""
    assert not any(client.reacts for client in clients)
    trace = _play(limiter, clients, None)
    assert trace is not None
    return trace


def _play(limiter: Limiter, clients: list[Client], contract: Contract | None) -> list[Reply] | None:
    """Without a contract: everything due before the earliest time a client that is waiting
    for its reply could send again goes in one batch. With one: a minute of traffic at a time,
    reacting clients answered by the contract; ``None`` when a reply differs from it."""
    limiter.api.requests(client.key for client in clients)
    queue: list[tuple[float, int, int]] = []
    sequence = itertools.count()
    for index, client in enumerate(clients):
        at = client.first()
        if at is not None:
            heapq.heappush(queue, (at, next(sequence), index))
    trace: list[Reply] = []
    while queue:
        # (at, client, the place in the order of its next request, when that was guessed)
        planned: list[tuple[float, int, int | None, float | None]] = []
        horizon = math.inf if contract is None else queue[0][0] + SPECULATE_SECONDS
        while queue and queue[0][0] < horizon:
            at, _, index = heapq.heappop(queue)
            client = clients[index]
            expected = contract.expect(at, client.key) if contract is not None else None
            if not client.reacts:  # its next request does not depend on the reply
                planned.append((at, index, None, None))
                following = client.after(None)
                if following is not None:
                    heapq.heappush(queue, (following, next(sequence), index))
                continue
            # Its next request takes this place in the order, whenever it is queued.
            place = next(sequence)
            if contract is None or expected is None:
                planned.append((at, index, place, None))
                horizon = min(horizon, client.earliest_after(at))
            else:
                guessed = client.after(expected)
                planned.append((at, index, place, guessed))
                if guessed is not None:
                    heapq.heappush(queue, (guessed, place, index))
        failure: LimiterFailed | None = None
        try:
            replies = limiter.send([(at, clients[index].key) for at, index, _, _ in planned])
        except LimiterFailed as failed:
            replies, failure = failed.replies, failed
        for (_, index, place, guessed), reply in zip(planned, replies, strict=False):
            trace.append(reply)
            if place is None:
                continue
            following = clients[index].after(reply)
            if contract is None:
                if following is not None:
                    heapq.heappush(queue, (following, place, index))
            elif following != guessed:
                return None
        if failure is not None:
            raise failure
    return trace


def _grid(start: float, step: float, count: int) -> list[float]:
    return [EPOCH + start + step * number for number in range(count)]


def run_tag(variant: random.Random) -> str:
    """A suffix for this run's API keys: the keys differ from run to run (nothing else does)."""
    return f"-{variant.getrandbits(24):06x}"


def mixed_traffic(tag: str = "", seed: int = 5) -> list[Client]:
    """Five minutes of traffic from clients that go over the limit in different ways; every
    API key ends with ``tag``."""
    rng = random.Random(seed)
    clients: list[Client] = [
        # The incident: a nightly sync that fires at the end of a minute and again just after.
        Scripted(
            f"key-acme-sync{tag}",
            _grid(58.0, 1 / 64, 100)
            + _grid(60.0, 1 / 64, 100)
            + _grid(178.0, 1 / 64, 100)
            + _grid(180.0, 1 / 64, 100),
        ),
        # One request, a burst 45 s later, then polling: catches windows anchored at first use.
        Scripted(
            f"key-poller{tag}",
            [EPOCH + 5.25, *_grid(50.25, 1 / 64, 99), *_grid(51.0, 0.25, 320)],
        ),
        # A retry loop without backoff, four requests a second for four minutes.
        Scripted(f"key-hammer{tag}", _grid(0.125, 0.25, 960)),
        # A burst, then polling twice a second: catches refilling buckets.
        Scripted(f"key-burst{tag}", _grid(10.0, 1 / 64, 100) + _grid(12.0, 0.5, 376)),
        # Random arrivals, about three a second.
        Scripted(
            f"key-random{tag}",
            sorted(EPOCH + round(rng.uniform(0.0, 290.0) * 64) / 64 for _ in range(870)),
        ),
        # SDK clients that honour Retry-After.
        Polite(f"key-sdk-fast{tag}", EPOCH + 0.375, 0.375, EPOCH + 300.0),
        Polite(f"key-sdk-slow{tag}", EPOCH + 20.5, 0.625, EPOCH + 300.0),
        Polite(f"key-sdk-bursty{tag}", EPOCH + 33.0, 1 / 16, EPOCH + 300.0),
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


def shown(raw: str | None) -> str:
    """A header value for a message: a whole number as it is, anything else described."""
    if raw is None:
        return "missing"
    if re.fullmatch(r"-?[0-9]{1,12}", raw):
        return raw
    return "not a whole number"
