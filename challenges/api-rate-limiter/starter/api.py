"""HTTP edge of the public API (read-only in this exercise).

The web framework turns every request into a :class:`Request` and calls :func:`handle_request`
on one of the worker's request threads. All threads of a worker share one :class:`RateLimiter`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from ratelimit import RateLimiter


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: str


def serve(request: Request) -> str:
    """Stand-in for the real endpoints (search, catalogue, orders, ...)."""
    return json.dumps({"ok": True, "path": request.path})


def handle_request(limiter: RateLimiter, request: Request) -> Response:
    """Authenticate by API key, apply the rate limit, then serve the request."""
    api_key = request.headers.get("X-API-Key", "").strip()
    if not api_key:
        return Response(
            401, {"Content-Type": "application/json"}, json.dumps({"error": "missing API key"})
        )

    decision = limiter.hit(api_key)
    headers = {
        "Content-Type": "application/json",
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
        body = {"error": "rate limit exceeded", "retry_after": decision.retry_after}
        return Response(429, headers, json.dumps(body))
    return Response(200, headers, serve(request))
