"""A scripted stand-in for the payment provider, and a sleep that does not sleep."""

from __future__ import annotations

from typing import Any


def charge_body(charge_id: str = "ch_1", amount: int = 4200) -> dict[str, Any]:
    return {"id": charge_id, "amount": amount, "currency": "EUR", "status": "succeeded"}


class ScriptedProvider:
    """Answers ``post`` with the given outcomes in order: exceptions are raised.

    The last outcome repeats once the script runs out.
    """

    def __init__(self, *outcomes: object) -> None:
        self.outcomes = outcomes
        self.requests: list[dict[str, Any]] = []

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(payload)
        if len(self.requests) > 50:
            raise RuntimeError("the client is still retrying after 50 requests")
        outcome = self.outcomes[min(len(self.requests), len(self.outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[return-value]


class FakeSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
