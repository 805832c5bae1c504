"""A limiter keeps the contract for whatever plan it is made with, not only 100 per 60 s.

``RateLimiter(limit, window_seconds, *, clock)`` is the public API: the defaults are the plan
of the brief (100 requests per 60 s), and every other plan is kept just as exactly. Four
limiters are played, each in the candidate's host and the starter's: one with the defaults, one
allowing a single request per second, one with a limit and a window drawn for this run, and one
with a drawn limit above 256 (CPython shares the int objects up to 256, so a count compared with
``is`` agrees with ``==`` only below that). Each gets a burst one over its limit, a request just
before the burst leaves the window and one as it leaves; every status and header is compared
with what the contract says. A plan that is no plan (a limit under 1, a window of 0 s or less)
is refused with ValueError, as today.
"""

from __future__ import annotations

import math
import random
from concurrent.futures import ThreadPoolExecutor

from faultline_harness.judge import Call, HostClient, RemoteError
from hidden_support import EPOCH, LIMIT, WINDOW, Api, Reply, Scripted, offset, run, run_tag, shown

WINDOWS = (0.5, 2.5, 15.0, 90.0, 3600.0)
"""Exact binary fractions, so the edge of the window is compared exactly."""
JUST_BEFORE = 1 / 64
SHARED_INTS = 256  # CPython's cached small ints end here
REFUSED = ({"limit": 0}, {"limit": -3}, {"window_seconds": 0.0}, {"window_seconds": -0.5})
ACCEPTED = ({"limit": 1, "window_seconds": JUST_BEFORE},)


def _plans(variant: random.Random) -> list[tuple[int | None, float | None]]:
    """(limit, window) for each limiter; ``None`` leaves the argument to its default."""
    return [
        (None, None),
        (1, 1.0),
        (variant.randint(2, 300), variant.choice(WINDOWS)),
        (variant.randint(SHARED_INTS + 1, 4 * SHARED_INTS), variant.choice(WINDOWS)),
    ]


def _expected(limit: int, window: float) -> list[tuple[float, int, int, int | None]]:
    """(time, status, remaining, Retry-After) for each request of the plan's traffic."""
    answers = [(EPOCH, 200, limit - 1 - number, None) for number in range(limit)]
    answers.append((EPOCH, 429, 0, math.ceil(window)))
    answers.append((EPOCH + window - JUST_BEFORE, 429, 0, 1))
    answers.append((EPOCH + window, 200, limit - 1, None))
    return answers


def _described(limit: int | None, window: float | None) -> str:
    if limit is None and window is None:
        return f"RateLimiter() (the defaults, {LIMIT} per {WINDOW:g} s)"
    return f"RateLimiter(limit={limit}, window_seconds={window:g})"


def _wrong_answers(host: HostClient, plans, tag: str) -> tuple[list[str], int]:
    """Every answer of ``host``'s limiters that breaks the contract, and how many were given."""
    api = Api(host)
    wrong: list[str] = []
    given = 0
    for number, (limit, window) in enumerate(plans):
        plan_limit = LIMIT if limit is None else limit
        plan_window = WINDOW if window is None else window
        expected = _expected(plan_limit, plan_window)
        key = f"key-plan{number}{tag}"
        replies = run(
            api.limiter(limit=limit, window=window), [Scripted(key, [t for t, *_ in expected])]
        )
        given += len(replies)
        for reply, (at, status, remaining, retry_after) in zip(replies, expected, strict=True):
            if _answer(reply) != (status, remaining, retry_after, plan_limit):
                right = _answer_text(status, remaining, plan_limit, retry_after)
                wrong.append(
                    f"{_described(limit, window)}: the request at {offset(at)} got "
                    f"{_shown(reply)}, expected {right}"
                )
    return wrong, given


def _plan_text(plan: dict[str, float]) -> str:
    return "RateLimiter(" + ", ".join(f"{name}={value:g}" for name, value in plan.items()) + ")"


def _wrong_refusals(host: HostClient) -> list[str]:
    """Plans that are no plan must raise ValueError; a tiny but valid one must not."""
    rate_limiter = host.module("ratelimit").RateLimiter
    plans = [*REFUSED, *ACCEPTED]
    made = host.batch([Call(rate_limiter, **plan) for plan in plans])
    wrong = []
    for plan, result in zip(plans, made, strict=True):
        refused = isinstance(result, RemoteError)
        if plan in REFUSED and not (refused and result.type_name == "ValueError"):
            verdict = "raised another error" if refused else "was accepted"
            wrong.append(f"{_plan_text(plan)} {verdict}; expected ValueError")
        elif plan in ACCEPTED and refused:
            wrong.append(f"{_plan_text(plan)} was refused")
    return wrong


def _answer(reply: Reply) -> tuple[int, int | None, int | None, int | None]:
    return (
        reply.status,
        reply.remaining,
        reply.retry_after if reply.status == 429 else None,
        reply.stated_limit,
    )


def _shown(reply: Reply) -> str:
    retry_after = shown(reply.raw_retry_after) if reply.status == 429 else None
    return _answer_text(reply.status, reply.remaining, reply.stated_limit, retry_after)


def _answer_text(status, remaining, limit, retry_after) -> str:
    """An answer as a message shows it: Retry-After only on a 429."""
    text = f"{status}, remaining {remaining}, limit {limit}"
    return text if retry_after is None else f"{text}, Retry-After {retry_after}"


def test_every_plan_is_kept_exactly(evidence, hosts, variant):
    plans = _plans(variant)
    tag = run_tag(variant)
    candidate_host = hosts.candidate()
    with ThreadPoolExecutor(2) as pool:
        starter = pool.submit(_wrong_answers, hosts.starter(), plans, tag)
        candidate = pool.submit(_wrong_answers, candidate_host, plans, tag)
        starter_wrong, _ = starter.result()
        wrong, given = candidate.result()
    refusals = _wrong_refusals(candidate_host)
    evidence.metric(
        "wrong_answers_on_other_plans",
        len(wrong),
        unit="responses",
        limit=0,
        starter=len(starter_wrong),
        label=f"wrong answers of {given}, from the default plan, 1 per second, "
        f"{plans[2][0]} per {plans[2][1]:g} s and {plans[3][0]} per {plans[3][1]:g} s",
    )
    if not starter_wrong:
        evidence.suspect(
            "plans: every answer of the starter was right in this run (its Retry-After is "
            "always the whole window); the trace is not trusted"
        )
    assert not wrong, f"{len(wrong)} of {given} answers broke the contract, e.g. " + "; ".join(
        wrong[:3]
    )
    assert not refusals, "; ".join(refusals)
