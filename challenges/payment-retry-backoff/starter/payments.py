"""Clients for the payment provider.

``PaymentClient`` is used by the checkout workers, ``AsyncPaymentClient`` by the asyncio
order service. Both send every charge with an idempotency key that stays the same across
retries, so the provider never books one charge twice however often it is retried.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from gateway import AsyncTransport, Charge, Transport
from retry import retry

CHARGES_PATH = "/v1/charges"


def _payload(amount_cents: int, card_token: str, currency: str, key: str | None) -> dict[str, Any]:
    return {
        "amount": amount_cents,
        "currency": currency,
        "source": card_token,
        "idempotency_key": key or uuid.uuid4().hex,
    }


class PaymentClient:
    """Charges cards through the provider, retrying transient failures."""

    def __init__(
        self,
        transport: Transport,
        *,
        attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        sleep: Callable[[float], object] = time.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        self._post = retry(
            attempts=attempts,
            base_delay=base_delay,
            max_delay=max_delay,
            sleep=sleep,
            random=random,
        )(transport.post)

    def charge(
        self,
        amount_cents: int,
        card_token: str,
        *,
        currency: str = "EUR",
        idempotency_key: str | None = None,
    ) -> Charge:
        payload = _payload(amount_cents, card_token, currency, idempotency_key)
        return Charge.from_response(self._post(CHARGES_PATH, payload))


class AsyncPaymentClient:
    """The same client for asyncio code: ``await client.charge(...)``."""

    def __init__(
        self,
        transport: AsyncTransport,
        *,
        attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        self._post = retry(
            attempts=attempts,
            base_delay=base_delay,
            max_delay=max_delay,
            async_sleep=sleep,
            random=random,
        )(transport.post)

    async def charge(
        self,
        amount_cents: int,
        card_token: str,
        *,
        currency: str = "EUR",
        idempotency_key: str | None = None,
    ) -> Charge:
        payload = _payload(amount_cents, card_token, currency, idempotency_key)
        return Charge.from_response(await self._post(CHARGES_PATH, payload))
