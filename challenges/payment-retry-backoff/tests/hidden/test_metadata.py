"""Check: a decorated function still looks like itself (logs, metrics, introspection).

The functions decorated are the judge's: built in the host with ``types.FunctionType`` (from a
standard-library code object, a plain and an ``async def`` one) under the names, docstrings and
module the judge gives them. The decorated function's attributes are read in the host and
compared here with the judge's own values.
"""

from __future__ import annotations

import pytest
from faultline_harness.judge import Call, HostClient, Member, Remote
from retry_driver import Bench, Sleeps

MODULE = "billing.capture_jobs"
FUNCTIONS = {
    # name: (docstring, asynchronous, standard-library function whose code object is used)
    "capture_charge": (
        "Capture an authorised charge, in full unless ``amount_cents`` is given.",
        False,
        ("json", "dumps"),
    ),
    "refund_charge": ("Refund a captured charge.", True, ("asyncio", "sleep")),
}
ATTRIBUTES = ("__name__", "__qualname__", "__doc__", "__module__")


def _function(host: HostClient, bench: Bench, name: str) -> Remote:
    doc, _, (module, template) = FUNCTIONS[name]
    code = Member(getattr(host.module(module), template).get(), "__code__").get()
    function = host.module("types").FunctionType(code, {"__name__": MODULE}, name)
    host.batch(
        [
            Call(bench.builtins.setattr, function, "__qualname__", f"CaptureJobs.{name}"),
            Call(bench.builtins.setattr, function, "__doc__", doc),
            Call(bench.builtins.setattr, function, "__module__", MODULE),
        ]
    )
    return function


def _expected(name: str, attribute: str) -> str:
    return {
        "__name__": name,
        "__qualname__": f"CaptureJobs.{name}",
        "__doc__": FUNCTIONS[name][0],
        "__module__": MODULE,
    }[attribute]


def _lost(host: HostClient) -> list[str]:
    bench = Bench(host)
    inspect = host.module("inspect")
    lost = []
    for name, (_, asynchronous, _) in FUNCTIONS.items():
        function = _function(host, bench, name)
        decorated = bench.retry.retry(sleep=Sleeps(host).callback)(function)
        values = host.batch(
            [Call(bench.builtins.getattr, decorated, attr, None) for attr in ATTRIBUTES]
            + [
                Call(
                    bench.operator.is_,
                    Call(bench.builtins.getattr, decorated, "__wrapped__"),
                    function,
                ),
                Call(inspect.iscoroutinefunction, decorated),
            ]
        )
        lost += [
            f"{name}.{attr}"
            for attr, value in zip(ATTRIBUTES, values, strict=False)
            if not (isinstance(value, str) and value == _expected(name, attr))
        ]
        if values[len(ATTRIBUTES)] is not True:
            lost.append(f"{name}.__wrapped__")
        if asynchronous and values[len(ATTRIBUTES) + 1] is not True:
            lost.append(f"{name} is no longer a coroutine function")
    return lost


def test_decorated_functions_keep_their_metadata(evidence, candidate, starter):
    lost_before = _lost(starter)
    lost = _lost(candidate)
    evidence.metric(
        "metadata_lost",
        len(lost),
        unit="attributes",
        limit=0,
        starter=len(lost_before),
        label="attributes of the decorated functions that no longer match the originals",
    )
    if not lost_before:
        evidence.suspect(
            "metadata-kept: the starter's decorated functions kept their metadata in this run "
            "(it does not use functools.wraps); the measurement is not trusted"
        )
    if lost:
        pytest.fail(
            f"{len(lost)} attributes changed by the decorator: {', '.join(lost)} "
            "(logs and metrics show the wrapper instead of the function)"
        )
