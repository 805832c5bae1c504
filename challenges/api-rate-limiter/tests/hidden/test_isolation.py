"""Keys are limited independently: what other keys do must not change a key's answers.

Each key's requests are played twice with the same limiter implementation: alone on a fresh
limiter, and together with every other key (including a noisy one) on a shared limiter. Every
response (status, ``X-RateLimit-Remaining``, ``Retry-After``) must be the same both times.
Each limiter runs in the host on a judge clock of its own; the judge compares the traces. The
starter (one count per key) passes this check, so it is not played: it would add no evidence.
"""

from __future__ import annotations

from faultline_harness.judge import HostClient
from hidden_support import EPOCH, LIMIT, Api, Reply, Scripted, offset, run, run_tag, shown

QUIET_KEYS = 40


def _schedules(tag: str) -> dict[str, list[float]]:
    """A noisy key at 20 requests a second, and quiet keys that each go one over the limit."""
    schedules = {f"key-noisy{tag}": [EPOCH + number / 20 for number in range(1_200)]}
    for number in range(QUIET_KEYS):
        start = EPOCH + number / 8
        # 101 requests in 50 s, then four more every 20 s
        times = [start + 0.5 * request for request in range(LIMIT + 1)]
        times += [start + 50.0 + 20.0 * request for request in range(1, 5)]
        schedules[f"key-{number:03d}{tag}"] = times
    return schedules


def _answer(reply: Reply) -> tuple[int, int | None, str | None]:
    return reply.status, reply.remaining, reply.raw_retry_after


def _shown(reply: Reply) -> str:
    retry_after = shown(reply.raw_retry_after)
    return f"({reply.status}, remaining {reply.remaining}, Retry-After {retry_after})"


def _changed_by_other_keys(host: HostClient, tag: str) -> tuple[list[str], int]:
    """Requests whose response differs between the key alone and the key among others."""
    schedules = _schedules(tag)
    api = Api(host)
    shared = run(api.limiter(), [Scripted(key, times) for key, times in schedules.items()])
    changed: list[str] = []
    for key, times in schedules.items():
        alone = run(api.limiter(), [Scripted(key, times)])
        together = [reply for reply in shared if reply.key == key]
        for solo, mixed in zip(alone, together, strict=True):
            if _answer(solo) != _answer(mixed):
                changed.append(
                    f"{key} at {offset(solo.at)}: alone {_shown(solo)}, "
                    f"with other keys {_shown(mixed)}"
                )
    return changed, len(shared)


def test_keys_are_limited_independently(evidence, candidate, variant):
    changed, requests = _changed_by_other_keys(candidate, run_tag(variant))
    evidence.metric(
        "answers_changed_by_other_keys",
        len(changed),
        unit="responses",
        limit=0,
        label=f"responses that changed because {QUIET_KEYS} other keys shared the limiter",
    )
    assert len(changed) == 0, (
        f"{len(changed)} of {requests} responses were different when the key shared the "
        "limiter with other keys (status, remaining, Retry-After), e.g. " + "; ".join(changed[:3])
    )
