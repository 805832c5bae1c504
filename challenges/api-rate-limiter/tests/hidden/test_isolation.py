"""Keys are limited independently: what other keys do must not change a key's answers.

Each key's requests are played twice with the same limiter implementation: alone on a fresh
limiter, and together with every other key (including a noisy one) on a shared limiter. Every
response (status, ``X-RateLimit-Remaining``, ``Retry-After``) must be the same both times.
"""

from __future__ import annotations

import ratelimit
from hidden_support import EPOCH, LIMIT, FakeClock, Reply, Scripted, new_limiter, offset, run

QUIET_KEYS = 40


def _schedules() -> dict[str, list[float]]:
    """A noisy key at 20 requests a second, and quiet keys that each go one over the limit."""
    schedules = {"key-noisy": [EPOCH + number / 20 for number in range(1_200)]}
    for number in range(QUIET_KEYS):
        start = EPOCH + number / 8
        # 101 requests in 50 s, then four more every 20 s
        times = [start + 0.5 * request for request in range(LIMIT + 1)]
        times += [start + 50.0 + 20.0 * request for request in range(1, 5)]
        schedules[f"key-{number:03d}"] = times
    return schedules


def _answer(reply: Reply) -> tuple[int, int | None, str | None]:
    return reply.status, reply.remaining, reply.raw_retry_after


def _changed_by_other_keys(module) -> tuple[list[str], int]:
    """Requests whose response differs between the key alone and the key among others."""
    schedules = _schedules()
    clock = FakeClock()
    shared = run(
        new_limiter(module, clock),
        clock,
        [Scripted(key, times) for key, times in schedules.items()],
    )
    changed: list[str] = []
    for key, times in schedules.items():
        alone_clock = FakeClock()
        alone = run(new_limiter(module, alone_clock), alone_clock, [Scripted(key, times)])
        together = [reply for reply in shared if reply.key == key]
        for solo, mixed in zip(alone, together, strict=True):
            if _answer(solo) != _answer(mixed):
                changed.append(
                    f"{key} at {offset(solo.at)}: alone {_answer(solo)}, "
                    f"with other keys {_answer(mixed)}"
                )
    return changed, len(shared)


def test_keys_are_limited_independently(evidence, starter):
    starter_changed, _ = _changed_by_other_keys(starter.load("ratelimit"))
    changed, requests = _changed_by_other_keys(ratelimit)
    evidence.metric(
        "answers_changed_by_other_keys",
        len(changed),
        unit="responses",
        limit=0,
        starter=len(starter_changed),
        label=f"responses that changed because {QUIET_KEYS} other keys shared the limiter",
    )
    assert len(changed) == 0, (
        f"{len(changed)} of {requests} responses were different when the key shared the "
        "limiter with other keys (status, remaining, Retry-After), e.g. " + "; ".join(changed[:3])
    )
