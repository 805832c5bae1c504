"""Drives a host's ``retry`` from the judge: the provider, the sleeps and the randomness are the
judge's.

Nothing of the candidate's runs here. The scripted provider is a ``unittest.mock`` object built in
the host from the standard library whose every call is a round trip to the judge: the judge
records the arguments and decides the outcome (an answer, or one of the provider's errors, built
in the host from ``gateway`` and raised there). ``sleep``, ``async_sleep`` and ``random`` are
judge callbacks, so every wait the candidate asks for and every jitter draw it takes is counted
on this side. What the candidate's code did with an error (raised it as is, raised another one,
returned) is asked of the host's standard library (``operator.is_``, ``isinstance``) through a
``concurrent.futures`` worker, whose future hands back the raised exception as an object.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from faultline_harness.judge import (
    Call,
    HostClient,
    HostTimeout,
    Member,
    Remote,
    RemoteError,
)

EPS = 1e-9
RUNAWAY_CALLS = 400  # a retry loop that never gives up is refused service from here on (the
# longest policy a check plays has 300 attempts)
CALL_SECONDS = 10.0  # one decorated call, all its attempts and waits included
PATH = "/v1/charges"
_NO_MORE = "no more errors: the judge lost track of the provider"  # iter() sentinel


_TAINTED: set[HostClient] = set()


def taint(host: HostClient) -> None:
    """Something of a check may still be running in ``host``: the next check needs a new one."""
    _TAINTED.add(host)


def is_tainted(host: HostClient) -> bool:
    return host in _TAINTED


def ok_body(charge_id: str = "ch_1", amount: int = 4200) -> dict[str, Any]:
    return {"id": charge_id, "amount": amount, "currency": "EUR", "status": "succeeded"}


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


def ceilings(retries: int, base: float, cap: float) -> list[float]:
    """The backoff before retries 1..retries: doubling from ``base``, capped at ``cap``."""
    return [min(cap, base * 2.0**n) for n in range(retries)]


def in_band(wait: float, ceiling: float) -> bool:
    """Equal jitter: a wait is drawn from [ceiling / 2, ceiling]."""
    return ceiling / 2 - EPS <= wait <= ceiling + EPS


def fmt(waits: Iterable[float]) -> str:
    """The waits as a short list: a long one shows its first and last few and its length."""
    shown = [f"{w:.3g}" for w in waits]
    if len(shown) > 12:
        shown = [*shown[:8], "...", *shown[-3:], f"({len(shown)} waits)"]
    return "[" + ", ".join(shown) + "]"


def _seconds(value: Any) -> float:
    """A wait the candidate asked for, as a number (anything else counts as no valid wait)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


class Bench:
    """One host's ``retry`` and ``gateway`` modules, and the standard-library pieces the judge
    builds providers and questions with."""

    def __init__(self, host: HostClient) -> None:
        self.host = host
        self.retry = host.module("retry")
        self.gateway = host.module("gateway")
        self.mock = host.module("unittest.mock")
        self.builtins = host.module("builtins")
        self.operator = host.module("operator")
        self.default = self.mock.DEFAULT.get()  # a side effect's "go on to the wrapped object"
        self._types: Remote | None = None
        self._executor: Remote | None = None
        self._classes: dict[str, Remote] = {}

    def error(self, name: str, *args: Any, **kwargs: Any) -> Remote:
        """A new exception in the host: a ``gateway`` error, or a builtin one (``KeyError``)."""
        module = self.gateway if name in _GATEWAY_ERRORS else self.builtins
        return getattr(module, name)(*args, **kwargs)

    def gateway_class(self, name: str) -> Remote:
        if name not in self._classes:
            self._classes[name] = getattr(self.gateway, name).get()
        return self._classes[name]

    def same(self, a: Any, b: Any) -> bool:
        """``a is b``, asked in the host (two handles to one object are different numbers)."""
        return self.operator.is_(a, b) is True

    def is_instance(self, value: Any, gateway_class: str) -> bool:
        return self.builtins.isinstance(value, self.gateway_class(gateway_class)) is True

    def transport(self, post: Remote) -> Remote:
        """An object with ``post``, as ``payments.PaymentClient`` expects of a transport."""
        if self._types is None:
            self._types = self.host.module("types")
        return self._types.SimpleNamespace(post=post)

    def settle(self, function: Remote | Member, *args: Any, **kwargs: Any) -> Settled:
        """Call ``function`` (plain, not async) in a host worker thread and wait for it."""
        if isinstance(function, Member):
            function = function.get()
        if self._executor is None:
            futures = self.host.module("concurrent.futures")
            self._executor = futures.ThreadPoolExecutor(4)
        future = self._executor.submit(function, *args, **kwargs)
        try:
            raised = future.exception(CALL_SECONDS)
        except RemoteError:  # the host's TimeoutError: still retrying
            taint(self.host)
            return Settled(hung=True)
        if raised is None:
            return Settled(result=future.result())
        return Settled(raised=raised)

    def call_async(self, function: Remote | Member, *args: Any, **kwargs: Any) -> Settled:
        """Call a coroutine function; the host awaits it on its event loop."""
        if isinstance(function, Member):
            answer = self.host.start_call(function.owner, function.name, args, kwargs)
        else:
            answer = self.host.start_call(function, None, args, kwargs)
        try:
            return Settled(result=answer.result(CALL_SECONDS))
        except RemoteError as error:
            return Settled(error=error)
        except HostTimeout:
            taint(self.host)
            return Settled(hung=True)


_GATEWAY_ERRORS = {
    "PaymentError",
    "RateLimited",
    "ServiceUnavailable",
    "Timeout",
    "CardDeclined",
    "BadRequest",
}


@dataclass
class Settled:
    result: Any = None
    raised: Remote | None = None  # the exception object, in the host
    error: RemoteError | None = None  # an exception known only by its description
    hung: bool = False


class Provider:
    """A scripted provider call (``post(path, payload)``), async or not.

    Outcomes in order: a :class:`Remote` (an exception in the host) is raised, anything else is
    returned; a callable outcome is called with the call's arguments for the answer. The last
    outcome repeats once the script runs out. Calls are counted here.
    """

    def __init__(self, bench: Bench, outcomes: Iterable[Any], *, asynchronous: bool = False):
        self.outcomes = list(outcomes)
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.runaway = False
        self._host = bench.host
        self._default = bench.default
        self._raising: deque[Remote] = deque()
        self._lock = threading.Lock()
        host, mock = bench.host, bench.mock
        # The candidate calls ``post``: its side effect asks the judge. An answer comes back as
        # the call's result; for an error the judge answers DEFAULT, so the mock goes on to the
        # object it wraps, which raises the next error the judge hands it.
        raiser = Call(
            mock.Mock,
            side_effect=Call(bench.builtins.iter, host.callback(self._next_error), _NO_MORE),
        )
        kind = mock.AsyncMock if asynchronous else mock.Mock
        self.post: Remote = kind(side_effect=host.callback(self._answer), wraps=raiser)
        # A transport's post() is a method called post (the starter logs its name).
        host.batch(
            [
                Call(bench.builtins.setattr, self.post, "__name__", "post"),
                Call(bench.builtins.setattr, self.post, "__qualname__", "Transport.post"),
            ]
        )

    def _answer(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls.append((args, kwargs))
            count = len(self.calls)
            if count > RUNAWAY_CALLS:
                self.runaway = True
                taint(self._host)
                raise RuntimeError(f"the provider refused call {count}: still retrying")
            outcome = self.outcomes[min(count, len(self.outcomes)) - 1]
            if isinstance(outcome, Remote):
                self._raising.append(outcome)
                return self._default
        if callable(outcome):
            return outcome(args, kwargs)
        return outcome

    def _next_error(self) -> Any:
        with self._lock:
            return self._raising.popleft() if self._raising else _NO_MORE

    @property
    def count(self) -> int:
        return len(self.calls)


class Sleeps:
    """The candidate's ``sleep`` (or, ``asynchronous``, its ``async_sleep``): records each wait.

    With ``real`` the judge really waits that long (capped) before answering, so the candidate's
    code is held for the wait while its event loop, for an awaited sleep, stays free.
    """

    def __init__(self, host: HostClient, *, asynchronous: bool = False, real: bool = False):
        self.waits: list[float] = []
        self.real = real
        self._host = host
        self.callback = host.callback(self._sleep, asynchronous=asynchronous)

    def _sleep(self, seconds: Any = math.nan) -> None:
        self.waits.append(_seconds(seconds))
        if len(self.waits) > RUNAWAY_CALLS:
            taint(self._host)
            raise RuntimeError(f"sleep refused after {RUNAWAY_CALLS} waits: still retrying")
        if self.real and self.waits[-1] > 0:
            time.sleep(min(self.waits[-1], 2.0))


class Draws:
    """The candidate's ``random``: values from the judge, counted."""

    def __init__(self, host: HostClient, source: Callable[[], float]) -> None:
        self.source = source
        self.count = 0
        self.callback = host.callback(self._draw)

    def _draw(self) -> float:
        self.count += 1
        return float(self.source())


@dataclass
class Outcome:
    result: object = None
    raised: Remote | None = None
    calls: int = 0
    waits: list[float] = field(default_factory=list)
    hung: bool = False
    expected: object = None  # the provider's answer the call should return, for describe()

    def describe(self) -> str:
        if self.hung:
            ended = f"still retrying after {CALL_SECONDS:g} s"
        elif self.raised is not None:
            ended = "raised an error"
        elif self.result is None:
            ended = "returned None"
        elif self.result == self.expected:
            ended = "returned the provider's answer"
        else:
            ended = "returned something other than the provider's answer"
        return f"{self.calls} call(s), waits {fmt(self.waits)}, {ended}"


def call_provider(
    bench: Bench,
    outcomes: Iterable[Any],
    *,
    random: Callable[[], float] | None = None,
    **options: Any,
) -> Outcome:
    """Charge once through ``retry(**options)`` wrapped around a scripted provider, the way
    ``payments.PaymentClient`` does, with the judge's sleep (and random, if given)."""
    outcomes = list(outcomes)
    provider = Provider(bench, outcomes)
    sleeps = Sleeps(bench.host)
    kwargs: dict[str, Any] = {"sleep": sleeps.callback, **options}
    if random is not None:
        kwargs["random"] = Draws(bench.host, random).callback
    post = bench.retry.retry(**kwargs)(provider.post)
    settled = bench.settle(post, PATH, {"amount": 4200, "idempotency_key": "k1"})
    answers = [o for o in outcomes if not isinstance(o, Remote)]
    return Outcome(
        result=settled.result,
        raised=settled.raised,
        calls=provider.count,
        waits=list(sleeps.waits),
        hung=settled.hung,
        expected=answers[-1] if answers else None,
    )
