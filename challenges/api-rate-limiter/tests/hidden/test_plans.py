"""A limiter keeps the contract for whatever plan it is made with, not only 100 per 60 s.

``RateLimiter(limit, window_seconds, *, clock)`` is the public API: the defaults are the plan
of the brief (100 requests per 60 s), and every other plan is kept just as exactly. Three
limiters are played, each in the candidate's host and the starter's: one with the defaults, one
allowing a single request per second, and one with a limit and a window drawn for this run.
Each gets a burst one over its limit, a request just before the burst leaves the window and
one as it leaves; every status and header is compared with what the contract says.
"""

from __future__ import annotations

import math
import random
from concurrent.futures import ThreadPoolExecutor

from faultline_harness.judge import HostClient
from hidden_support import EPOCH, LIMIT, WINDOW, Api, Reply, Scripted, offset, run, run_tag, shown

WINDOWS = (0.5, 2.5, 15.0, 90.0, 3600.0)
"""Exact binary fractions, so the edge of the window is compared exactly."""
JUST_BEFORE = 1 / 64


def _plans(variant: random.Random) -> list[tuple[int | None, float | None]]:
    """(limit, window) for each limiter; ``None`` leaves the argument to its default."""
    return [(None, None), (1, 1.0), (variant.randint(2, 300), variant.choice(WINDOWS))]


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
    with ThreadPoolExecutor(2) as pool:
        starter = pool.submit(_wrong_answers, hosts.starter(), plans, tag)
        candidate = pool.submit(_wrong_answers, hosts.candidate(), plans, tag)
        starter_wrong, _ = starter.result()
        wrong, given = candidate.result()
    evidence.metric(
        "wrong_answers_on_other_plans",
        len(wrong),
        unit="responses",
        limit=0,
        starter=len(starter_wrong),
        label=f"wrong answers of {given}, from the default plan, 1 per second and "
        f"{plans[2][0]} per {plans[2][1]:g} s",
    )
    if not starter_wrong:
        evidence.suspect(
            "plans: every answer of the starter was right in this run (its Retry-After is "
            "always the whole window); the trace is not trusted"
        )
    assert not wrong, f"{len(wrong)} of {given} answers broke the contract, e.g. " + "; ".join(
        wrong[:3]
    )
