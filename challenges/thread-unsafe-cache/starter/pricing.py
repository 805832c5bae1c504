"""How the pricing service uses the rate cache (read-only).

``/quote`` converts a basket total into the shopper's currency. The service runs under a
threaded WSGI server (32 worker threads per pod); every thread shares the module-level
``RateCache`` built by :func:`build_cache`. A separate thread consumes the provider's
corrections feed and calls :meth:`RateCache.invalidate` for every republished pair.
"""

from __future__ import annotations

import json
import time
import urllib.request
from decimal import ROUND_HALF_EVEN, Decimal

from rate_cache import RateCache

PROVIDER_URL = "https://rates.internal.example/v2/rates/{base}/{quote}"
CENT = Decimal("0.01")


class RatesUnavailable(Exception):
    """The rates provider did not return a rate (timeout, HTTP 429/5xx, bad payload)."""


def fetch_from_provider(pair: str, *, timeout: float = 2.0) -> Decimal:
    """Ask the rates provider for one pair. Typically 200-400 ms; rate-limited per API key."""
    base, quote = pair.split("/")
    url = PROVIDER_URL.format(base=base, quote=quote)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = json.load(response)
        return Decimal(str(payload["rate"]))
    except (OSError, ValueError, KeyError) as exc:
        raise RatesUnavailable(f"{pair}: {exc}") from exc


def build_cache() -> RateCache:
    return RateCache(fetch_from_provider, ttl_seconds=60.0, clock=time.monotonic)


def quote(cache: RateCache, amount: Decimal, source: str, target: str) -> Decimal:
    """``amount`` in ``source`` currency, converted to ``target`` and rounded to cents."""
    if source == target:
        return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)
    rate = cache.get(f"{source}/{target}")
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)


def on_correction(cache: RateCache, message: dict[str, str]) -> None:
    """Corrections-feed handler: the provider republished the rate of one pair."""
    cache.invalidate(message["pair"])
