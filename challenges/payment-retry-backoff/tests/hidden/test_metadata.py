"""Check: a decorated function still looks like itself (logs, metrics, introspection)."""

from __future__ import annotations

import inspect

import pytest
from hidden_support import Sleeps

ATTRIBUTES = ("__name__", "__qualname__", "__doc__", "__module__")


def capture_charge(charge_id: str, amount_cents: int | None = None) -> dict[str, object]:
    """Capture an authorised charge, in full unless ``amount_cents`` is given."""
    return {"id": charge_id, "captured": amount_cents}


async def refund_charge(charge_id: str) -> dict[str, object]:
    """Refund a captured charge."""
    return {"id": charge_id, "refunded": True}


def _lost(module) -> list[str]:
    lost = []
    for func in (capture_charge, refund_charge):
        decorated = module.retry(sleep=Sleeps())(func)
        lost += [
            f"{func.__name__}.{attr}"
            for attr in ATTRIBUTES
            if getattr(decorated, attr, None) != getattr(func, attr)
        ]
        if getattr(decorated, "__wrapped__", None) is not func:
            lost.append(f"{func.__name__}.__wrapped__")
    if not inspect.iscoroutinefunction(module.retry(sleep=Sleeps())(refund_charge)):
        lost.append("refund_charge is no longer a coroutine function")
    return lost


def test_decorated_functions_keep_their_metadata(evidence, starter):
    import retry

    lost, lost_before = _lost(retry), _lost(starter.load("retry"))
    evidence.metric(
        "metadata_lost",
        len(lost),
        unit="attributes",
        limit=0,
        starter=len(lost_before),
        label="attributes of the decorated functions that no longer match the originals",
    )
    if lost:
        pytest.fail(
            f"{len(lost)} attributes changed by the decorator: {', '.join(lost)} "
            "(logs and metrics show the wrapper instead of the function)"
        )
