"""Drives a host's ``RateCache`` from the judge: the provider, the clock and the callers are ours.

- The provider (the cache's ``fetch``) is a judge callback, so every fetch is counted here, per
  pair. It can hold fetches at a gate until the judge opens it (the slow, rate-limited provider:
  every caller that is going to miss a pair is inside ``get`` together) and fail chosen pairs.
- A rate is built in the host as a ``decimal.Decimal`` from the judge's text (rates vary per
  run) and read back as its ``repr``: plain text the judge compares with what it sent.
- Callers are concurrent calls into the host (each request runs on a host thread of its own).
  A crowd's caller first calls back the judge (``arrive``) right before its ``get``, so the judge
  knows when every caller is inside the cache, like the barrier of the in-process version.
- The clock is a judge-owned cell (read in the host, no round trip) or, where a race needs the
  cache to wait on it, a judge callback: a clock behind a system call.
"""

from __future__ import annotations

import builtins
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from faultline_harness.judge import Call, HostClient, HostFailure, Remote, RemoteError

PAIRS = [
    "EUR/USD",
    "GBP/USD",
    "USD/JPY",
    "EUR/CHF",
    "USD/CAD",
    "AUD/USD",
    "EUR/GBP",
    "USD/SEK",
    "NZD/USD",
    "USD/PLN",
    "EUR/NOK",
    "USD/MXN",
    "EUR/JPY",
    "GBP/JPY",
    "EUR/SEK",
    "EUR/PLN",
    "EUR/DKK",
    "USD/DKK",
    "USD/NOK",
    "USD/CHF",
    "GBP/CHF",
    "AUD/JPY",
    "EUR/AUD",
    "EUR/CAD",
    "GBP/AUD",
    "USD/SGD",
    "USD/HKD",
    "USD/ZAR",
    "USD/TRY",
    "USD/CZK",
    "EUR/CZK",
    "USD/HUF",
    "EUR/HUF",
    "USD/ILS",
    "USD/INR",
    "USD/CNH",
    "USD/KRW",
    "USD/BRL",
    "USD/THB",
    "EUR/NZD",
    "GBP/CAD",
    "CAD/JPY",
    "CHF/JPY",
    "NZD/JPY",
]
_random = random.SystemRandom()
# Per run: distinct rates with four decimals, e.g. "3.0427".
RATES = {
    pair: str(Decimal(index + 1) + Decimal(_random.randrange(1, 10_000)) / 10_000)
    for index, pair in enumerate(PAIRS)
}
# Per run: the rates the provider republishes later (a correction), each unlike the first one.
CORRECTED = {
    pair: str(Decimal(rate) + Decimal(_random.randrange(1, 5_000)) / 10_000)
    for pair, rate in RATES.items()
}
NOW = 1_000.0
# Concurrent callers per host at most: the sandbox's pids limit (challenge.yaml) counts every
# thread of the container, and each caller holds a host thread, each held fetch a judge thread.
MAX_CALLERS = 80
JOIN_SECONDS = 5.0  # a caller still inside get() this long after the provider answered is stuck
PROVIDER_DOWN = "rates provider returned HTTP 503 for {pair}"


def expected(pair: str, rates: dict[str, str] | None = None) -> str:
    """The ``repr`` of the rate the provider sends for ``pair`` (from ``RATES``, or from
    ``rates`` once it has republished them)."""
    return f"Decimal('{(RATES if rates is None else rates)[pair]}')"


def error_name(error: BaseException) -> str:
    """How a failure is named in a message: the judge's words (or a builtin exception's name)."""
    if isinstance(error, RemoteError):
        kind = getattr(builtins, error.type_name, None)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            return error.type_name
        return "an exception of its own class"
    if isinstance(error, HostFailure):
        return "no answer (the host stopped answering)"
    return "an error"


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    return True


class Provider:
    """The cache's ``fetch``, on the judge's side: counts fetches, can hold or fail them."""

    def __init__(self, decimal_class: Remote, held: Iterable[str], failing: Iterable[str]) -> None:
        self._decimal = decimal_class
        self.rates = RATES  # what it answers; set to CORRECTED when the provider republishes
        self.held = set(held)
        self.failing = set(failing)
        self.gate = threading.Event()
        self.calls: Counter[str] = Counter()
        self._fetching: Counter[str] = Counter()
        self.most_pairs_at_once = 0  # most different pairs being fetched at the same time
        self._lock = threading.Lock()

    def __call__(self, pair: Any) -> Call:
        if not isinstance(pair, str) or pair not in RATES:
            raise KeyError("the provider knows no such pair")
        with self._lock:
            self.calls[pair] += 1
            self._fetching[pair] += 1
            self.most_pairs_at_once = max(self.most_pairs_at_once, len(+self._fetching))
        try:
            if pair in self.held:
                self.gate.wait(JOIN_SECONDS)
            if pair in self.failing:
                raise ConnectionError(PROVIDER_DOWN.format(pair=pair))
            return Call(self._decimal, self.rates[pair])
        finally:
            with self._lock:
                self._fetching[pair] -= 1

    @property
    def total_calls(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def calls_of(self, pair: str) -> int:
        with self._lock:
            return self.calls[pair]


@dataclass
class Outcome:
    pair: str
    value: Any = None
    error: BaseException | None = None
    stuck: bool = False


class Rates:
    """A ``RateCache`` in ``host`` whose provider, clock and callers are the judge's."""

    def __init__(
        self,
        host: HostClient,
        *,
        held: Iterable[str] = (),
        failing: Iterable[str] = (),
        ttl_seconds: float | None = 3_600.0,
        clock: Any = None,
    ) -> None:
        """``ttl_seconds=None`` leaves the TTL to the cache's default."""
        self.host = host
        module = host.module("rate_cache")  # the plugin reports an import that fails
        self._arrived = 0
        self._arrived_lock = threading.Lock()
        try:
            self._builtins = host.module("builtins")
            self.provider = Provider(host.module("decimal").Decimal.get(), held, failing)
            self.clock = host.cell(NOW) if clock is None else clock
            # A handle in the host to a judge callback, so a host-side Call can go through it.
            (self._arrive,) = self._builtins.list([host.callback(self._arrival)])
            ttl = {} if ttl_seconds is None else {"ttl_seconds": ttl_seconds}
            self.cache = module.RateCache(host.callback(self.provider), **ttl, clock=self.clock)
        except RemoteError as error:
            shown = "" if ttl_seconds is None else f"ttl_seconds={ttl_seconds:g}, "
            pytest.fail(
                f"RateCache(fetch, {shown}clock=...) could not be built in the host: it raised "
                f"{error_name(error)}"
            )

    def _arrival(self, pair: str) -> str:
        with self._arrived_lock:
            self._arrived += 1
        return pair

    def arrived(self) -> int:
        with self._arrived_lock:
            return self._arrived

    def get(self, pair: str) -> str:
        """``repr(cache.get(pair))``; the candidate's exception arrives as ``RemoteError``."""
        return self._builtins.repr.start(Call(self.cache.get, pair)).result(JOIN_SECONDS)

    def lookup(self, pair: str) -> Outcome:
        """One ``get`` now, its answer or error kept for :func:`describe_wrong`."""
        try:
            return Outcome(pair, value=self.get(pair))
        except (RemoteError, HostFailure) as error:
            return Outcome(pair, error=error)

    def start_get(self, pair: str, *, announced: bool = False):
        """``get`` without waiting; ``announced``: the caller calls ``arrive`` first."""
        argument = Call(self._arrive, pair) if announced else pair
        return self._builtins.repr.start(Call(self.cache.get, argument))

    def get_many(self, pairs: list[str]) -> list[Any]:
        """``repr(cache.get(pair))`` for each pair in order, in one host thread."""
        return self.host.map(self._builtins.repr, [(pair,) for pair in pairs], wrap=self.cache.get)

    def invalidate_many(self, pairs: list[str]) -> list[Any]:
        return self.host.map(self.cache.invalidate, [(pair,) for pair in pairs])

    def crowd(
        self,
        pairs: list[str],
        per_pair: int,
        while_inside: Callable[[], None] | None = None,
    ) -> list[Outcome]:
        """``per_pair`` concurrent callers of ``get`` for each pair; ``while_inside`` runs here
        once they are all started (it is where a check opens the provider's gate)."""
        outcomes = [Outcome(pair) for pair in pairs for _ in range(per_pair)]
        assert len(outcomes) <= MAX_CALLERS
        answers = [self.start_get(o.pair, announced=True) for o in outcomes]
        try:
            if while_inside is not None:
                while_inside()
        finally:
            self.provider.gate.set()
        collect(outcomes, answers)
        return outcomes


def done_with(host: HostClient) -> None:
    """Stop a host whose part is over (a baseline), so its threads (and the judge's that served
    it) are gone before the next host's callers start. Stopping it twice is harmless."""
    host.close()


def collect(outcomes: list[Outcome], answers: list[Any], seconds: float = JOIN_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    for outcome, answer in zip(outcomes, answers, strict=True):
        try:
            outcome.value = answer.result(max(0.01, deadline - time.monotonic()))
        except RemoteError as error:
            outcome.error = error
        except HostFailure as error:
            outcome.error = error
            outcome.stuck = not answer.done()


def describe_wrong(
    outcomes: list[Outcome], failing: bool = False, rates: dict[str, str] | None = None
) -> list[str]:
    """One line per caller that did not get what it should have: the rate (from ``rates``, by
    default ``RATES``), or with ``failing`` the provider's ``ConnectionError``."""
    problems: list[str] = []
    for outcome in outcomes:
        pair, error = outcome.pair, outcome.error
        if outcome.stuck:
            problems.append(f"get({pair!r}) was still waiting after {JOIN_SECONDS:g} s")
        elif failing:
            if error is None:
                problems.append(f"get({pair!r}) returned instead of raising ConnectionError")
            elif not provider_error(error, pair):
                problems.append(
                    f"get({pair!r}) raised {error_name(error)}, not the provider's ConnectionError"
                )
        elif error is not None:
            problems.append(f"get({pair!r}) raised {error_name(error)}")
        elif outcome.value != expected(pair, rates):
            problems.append(f"get({pair!r}) returned something other than the provider's rate")
    return problems


def provider_error(error: BaseException, pair: str) -> bool:
    return (
        isinstance(error, RemoteError)
        and error.type_name == "ConnectionError"
        and PROVIDER_DOWN.format(pair=pair) in error.message
    )
