"""Fakes shared by the hidden checks: a scripted provider, recording sleeps, fixed randoms."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

EPS = 1e-9
RUNAWAY_CALLS = 50  # a retry loop that never gives up is stopped here


class RunawayRetries(BaseException):
    """Raised by a fake after RUNAWAY_CALLS calls, so a loop that never stops cannot hang.

    A BaseException, so that no ``except Exception`` in the code under test swallows it."""


def ok_body(charge_id: str = "ch_1", amount: int = 4200) -> dict[str, Any]:
    return {"id": charge_id, "amount": amount, "currency": "EUR", "status": "succeeded"}


class Script:
    """Outcomes in order: an exception instance is raised, anything else returned.

    The last outcome repeats once the script runs out.
    """

    def __init__(self, outcomes: Iterable[object]) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def next(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> object:
        self.calls.append((args, kwargs))
        if len(self.calls) > RUNAWAY_CALLS:
            raise RunawayRetries(f"still retrying after {RUNAWAY_CALLS} calls")
        outcome = self.outcomes[min(len(self.calls), len(self.outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    @property
    def count(self) -> int:
        return len(self.calls)


class Provider(Script):
    """A scripted payment provider transport (``post(path, payload)``)."""

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self.next((path, payload), {})  # type: ignore[return-value]


class AsyncProvider(Script):
    async def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self.next((path, payload), {})  # type: ignore[return-value]


@dataclass
class Sleeps:
    """A fake ``time.sleep`` that records the requested waits."""

    waits: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.waits.append(float(seconds))
        if len(self.waits) > RUNAWAY_CALLS:
            raise RunawayRetries(f"still sleeping after {RUNAWAY_CALLS} waits")


@dataclass
class AsyncSleeps:
    """A fake ``asyncio.sleep``: records the wait and yields to the loop once."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(float(seconds))
        await asyncio.sleep(0)


def fixed(value: float) -> Callable[[], float]:
    return lambda: value


def ceilings(retries: int, base: float, cap: float) -> list[float]:
    """The backoff before retries 1..retries: doubling from ``base``, capped at ``cap``."""
    return [min(cap, base * 2.0**n) for n in range(retries)]


def in_band(wait: float, ceiling: float) -> bool:
    """Equal jitter: a wait is drawn from [ceiling / 2, ceiling]."""
    return ceiling / 2 - EPS <= wait <= ceiling + EPS


def fmt(waits: Iterable[float]) -> str:
    return "[" + ", ".join(f"{w:.3g}" for w in waits) + "]"


@dataclass
class Outcome:
    result: object = None
    raised: BaseException | None = None
    calls: int = 0
    waits: list[float] = field(default_factory=list)

    def describe(self) -> str:
        if self.raised is not None:
            ended = f"raised {type(self.raised).__name__}"
        else:
            ended = f"returned {self.result!r:.60}"
        return f"{self.calls} call(s), waits {fmt(self.waits)}, {ended}"


def call_provider(
    retry_module: ModuleType,
    outcomes: Iterable[object],
    *,
    random: Callable[[], float] | None = None,
    **options: Any,
) -> Outcome:
    """Charge once through ``retry_module.retry(**options)`` wrapped around a scripted
    provider, the way ``payments.PaymentClient`` does, with a recording fake sleep."""
    provider = Provider(outcomes)
    sleeps = Sleeps()
    kwargs: dict[str, Any] = {"sleep": sleeps, **options}
    if random is not None:
        kwargs["random"] = random
    post = retry_module.retry(**kwargs)(provider.post)
    outcome = Outcome()
    try:
        outcome.result = post("/v1/charges", {"amount": 4200, "idempotency_key": "k1"})
    except RunawayRetries:
        raise
    except Exception as exc:
        outcome.raised = exc
    outcome.calls = provider.count
    outcome.waits = sleeps.waits
    return outcome


@dataclass
class LagRun:
    max_lag: float  # seconds
    results: list[object]


async def measure_loop_lag(charges: list[Callable[[], Any]], period: float = 0.005) -> LagRun:
    """Run ``charges`` concurrently while a heartbeat task measures how late the loop wakes
    it up; return the worst lateness."""
    lags: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(period)
            lags.append(time.perf_counter() - started - period)

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(period * 4)
    lags.clear()
    try:
        results = await asyncio.wait_for(
            asyncio.gather(*(charge() for charge in charges), return_exceptions=True), 15
        )
    finally:
        done.set()
        await beat
    return LagRun(max_lag=max(lags, default=0.0), results=list(results))
