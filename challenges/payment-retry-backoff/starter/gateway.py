"""Errors and data types of the payment provider's HTTP API.

Our HTTP layer (not part of this exercise) turns every response of the provider into either
a ``dict`` (2xx) or one of the exceptions below. The transports are injected into the
clients in ``payments.py``, so tests can script the provider without a network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class PaymentError(Exception):
    """The provider answered with an error, or did not answer at all."""

    status: int | None = None

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message or type(self).__name__)
        if status is not None:
            self.status = status


class RateLimited(PaymentError):
    """429: too many requests. ``retry_after`` is the Retry-After header in seconds, if sent."""

    status = 429

    def __init__(self, message: str = "", *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(PaymentError):
    """503: the provider is overloaded or in maintenance."""

    status = 503


class Timeout(PaymentError):
    """No response within the read timeout. The charge may or may not have been made."""


class CardDeclined(PaymentError):
    """402: the card issuer refused the charge (insufficient funds, fraud suspicion, ...)."""

    status = 402

    def __init__(self, message: str = "", *, decline_code: str = "generic_decline") -> None:
        super().__init__(message)
        self.decline_code = decline_code


class BadRequest(PaymentError):
    """400: the request is invalid (unknown card token, negative amount, ...)."""

    status = 400


class Transport(Protocol):
    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]: ...


class AsyncTransport(Protocol):
    async def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Charge:
    id: str
    amount_cents: int
    currency: str
    status: str

    @classmethod
    def from_response(cls, body: dict[str, Any]) -> Charge:
        return cls(
            id=str(body["id"]),
            amount_cents=int(body["amount"]),
            currency=str(body["currency"]),
            status=str(body["status"]),
        )
