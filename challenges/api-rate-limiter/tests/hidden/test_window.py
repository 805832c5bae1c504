"""The sliding-window contract, judged on five minutes of mixed traffic.

Each check plays the same traffic (a sync job firing across a minute boundary, pollers, a
retry loop without backoff, random arrivals and SDK clients that honour ``Retry-After``)
against the candidate's limiter and, for the evidence, against the starter's (each in a host of
its own, played at the same time). The judge owns the clock and keeps the trace. The traffic is
played once per run: the four checks judge the same two traces.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from faultline_harness.judge import HostClient
from hidden_support import (
    LIMIT,
    WINDOW,
    Api,
    Verdicts,
    judge,
    mixed_traffic,
    offset,
    play,
    run_tag,
    shown,
)


def _play(host: HostClient, tag: str) -> Verdicts:
    return judge(play(Api(host), lambda: mixed_traffic(tag)))


_PLAYED: list[tuple[Verdicts, Verdicts] | AssertionError] = []
"""This run's play: the starter's verdicts and the candidate's, or why there are none."""


def _verdicts(hosts, variant) -> tuple[Verdicts, Verdicts]:
    """The starter's verdicts and the candidate's, each played in a fresh host of its own (at
    the same time) by whichever check comes first."""
    if not _PLAYED:
        tag = run_tag(variant)
        try:
            with ThreadPoolExecutor(2) as pool:
                starter_play = pool.submit(_play, hosts.starter(), tag)
                candidate_play = pool.submit(_play, hosts.candidate(), tag)
                _PLAYED.append((starter_play.result(), candidate_play.result()))
        except AssertionError as failure:  # the candidate's code raised, or its host failed
            _PLAYED.append(failure)
    played = _PLAYED[0]
    if isinstance(played, AssertionError):
        raise played
    return played


def _no_other_status(verdicts: Verdicts) -> None:
    assert len(verdicts.other_status) == 0, (
        f"{len(verdicts.other_status)} requests got a status other than 200 or 429 "
        f"(first: {verdicts.other_status[0].status} for {verdicts.other_status[0].key})"
    )


def test_no_key_exceeds_limit_in_any_minute(evidence, hosts, variant):
    starter_verdicts, verdicts = _verdicts(hosts, variant)
    key, worst = verdicts.worst
    evidence.metric(
        "most_admitted_in_60s",
        worst,
        unit="requests",
        limit=LIMIT,
        starter=starter_verdicts.worst[1],
        label="most requests one key got through in any 60-second span",
    )
    if starter_verdicts.worst[1] <= LIMIT:
        evidence.suspect(
            f"limit-holds: the starter let at most {starter_verdicts.worst[1]} requests through "
            "in 60 s in this run (its fixed windows let 200 through); the trace is not trusted"
        )
    _no_other_status(verdicts)
    over = {k: n for k, n in verdicts.worst_span.items() if n > LIMIT}
    assert worst <= LIMIT, (
        f"{key} got {worst} requests through within 60 seconds (limit {LIMIT}); "
        f"{len(over)} of {len(verdicts.worst_span)} keys went over: "
        + ", ".join(f"{k} {n}" for k, n in sorted(over.items()))
    )


def test_requests_admitted_again_as_old_ones_age_out(evidence, hosts, variant):
    starter_verdicts, verdicts = _verdicts(hosts, variant)
    wrongly_refused = verdicts.refused_below_limit
    evidence.metric(
        "refused_under_limit",
        len(wrongly_refused),
        unit="requests",
        limit=0,
        starter=len(starter_verdicts.refused_below_limit),
        label=f"429s while the key had fewer than {LIMIT} requests in the last 60 s",
    )
    _no_other_status(verdicts)
    assert verdicts.refused < verdicts.requests, "every request was refused"
    assert len(wrongly_refused) == 0, (
        f"{len(wrongly_refused)} of {verdicts.refused} refusals came while the key had fewer "
        f"than {LIMIT} requests admitted in the previous {WINDOW:g} s, e.g. "
        + ", ".join(f"{r.key} at {offset(r.at)}" for r in wrongly_refused[:3])
        + "; a request stops counting exactly 60 s after it was admitted, and refused "
        "requests do not count"
    )


def test_retry_after_says_when_a_slot_frees(evidence, hosts, variant):
    starter_verdicts, verdicts = _verdicts(hosts, variant)
    wrong = verdicts.wrong_retry_after
    evidence.metric(
        "wrong_retry_after",
        len(wrong),
        unit="responses",
        limit=0,
        starter=len(starter_verdicts.wrong_retry_after),
        label=f"429s with a wrong Retry-After, of {verdicts.refused}",
    )
    if not starter_verdicts.wrong_retry_after:
        evidence.suspect(
            "retry-after: every Retry-After of the starter was right in this run (it always "
            "says 60); the trace is not trusted"
        )
    _no_other_status(verdicts)
    assert verdicts.refused > 0, "no request was refused"
    examples = "; ".join(
        f"{reply.key} at {offset(reply.at)}: Retry-After {shown(reply.raw_retry_after)}, "
        f"a slot frees in {wait:g} s"
        for reply, wait in wrong[:3]
    )
    assert len(wrong) == 0, (
        f"{len(wrong)} of {verdicts.refused} 429 responses had a wrong Retry-After "
        f"(expected the seconds until a slot frees, rounded up), e.g. {examples}"
    )


def test_remaining_header_is_accurate(evidence, hosts, variant):
    starter_verdicts, verdicts = _verdicts(hosts, variant)
    wrong = verdicts.wrong_remaining
    evidence.metric(
        "wrong_remaining",
        len(wrong),
        unit="responses",
        limit=0,
        starter=len(starter_verdicts.wrong_remaining),
        label=f"responses with a wrong X-RateLimit-Remaining, of {verdicts.requests}",
    )
    if not starter_verdicts.wrong_remaining:
        evidence.suspect(
            "remaining: every X-RateLimit-Remaining of the starter was right in this run (it "
            "resets at each minute); the trace is not trusted"
        )
    _no_other_status(verdicts)
    examples = "; ".join(
        f"{reply.key} at {offset(reply.at)} ({reply.status}): {reply.remaining}, "
        f"expected {expected}"
        for reply, expected in wrong[:3]
    )
    assert len(wrong) == 0, (
        f"{len(wrong)} of {verdicts.requests} responses had a wrong X-RateLimit-Remaining "
        f"(requests the key can still make in the sliding window), e.g. {examples}"
    )
