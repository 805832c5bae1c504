"""Quick checks of the rate limit as clients see it. Run them with the "Run tests" button."""

from __future__ import annotations

import api
import ratelimit

START = 1_800_000_000.0  # a wall-clock time on the turn of a minute (08:00:00 UTC)


class FakeClock:
    """A clock the test sets by hand, so no test has to sleep."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make() -> tuple[ratelimit.RateLimiter, FakeClock]:
    clock = FakeClock()
    return ratelimit.RateLimiter(limit=100, window_seconds=60.0, clock=clock), clock


def get(limiter: ratelimit.RateLimiter, key: str) -> api.Response:
    return api.handle_request(limiter, api.Request("GET", "/v1/products", {"X-API-Key": key}))


def test_100_requests_then_429():
    limiter, clock = make()
    for number in range(100):
        clock.now = START + 1.0 + number * 0.25
        response = get(limiter, "key-alpha")
        assert response.status == 200, f"request {number + 1} was refused"
        assert response.headers["X-RateLimit-Limit"] == "100"
        assert response.headers["X-RateLimit-Remaining"] == str(99 - number)

    clock.now = START + 30.0
    refused = get(limiter, "key-alpha")
    assert refused.status == 429
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60

    other = get(limiter, "key-beta")
    assert other.status == 200, "another key was refused"
    assert other.headers["X-RateLimit-Remaining"] == "99"


def test_request_stops_counting_60_seconds_after_it_was_made():
    limiter, clock = make()
    for number in range(100):
        clock.now = START + 0.5 + number * 0.25  # 00:00.50 to 00:25.25
        assert get(limiter, "key-alpha").status == 200

    clock.now = START + 59.5
    assert get(limiter, "key-alpha").status == 429, "101 requests within 60 seconds"
    clock.now = START + 60.5  # the request made at 00:00.50 no longer counts
    assert get(limiter, "key-alpha").status == 200, "a slot should have freed at 01:00.50"


def clock_time(seconds: float) -> str:
    return f"08:{int(seconds // 60):02d}:{seconds % 60:05.2f}"


def test_no_burst_of_200_across_the_turn_of_a_minute():
    """The incident: a sync job sends 100 requests at 08:00:58 and 100 more at 08:01:00."""
    limiter, clock = make()
    admitted: list[float] = []
    for start in (58.0, 60.0):
        for number in range(100):
            clock.now = START + start + number / 64
            if get(limiter, "key-sync").status == 200:
                admitted.append(clock.now - START)
    assert len(admitted) <= 100, (
        f"{len(admitted)} requests were admitted between {clock_time(admitted[0])} and "
        f"{clock_time(admitted[-1])} (limit: 100 in any 60 seconds)"
    )
