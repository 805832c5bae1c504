"""Import runs for the startup check: one fresh host per import order.

Import problems only show in a fresh interpreter, so each import order gets a host of its own
(a fresh process): the judge imports the modules there in the given order, imports the rest of
the app, then makes the same few requests; the outcomes (plain data) of all orders are compared.
The starter runs the same orders in starter hosts, for the baseline.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from faultline_harness.judge import (
    HostClient,
    HostFailure,
    HostTimeout,
    Member,
    Remote,
    RemoteError,
)
from shop_host import SUBMODULES, bounded, error_text

ORDER_SECONDS = 10.0  # one import order: importing the app and answering the requests
BUDGET_SECONDS = 20.0  # all orders of one subject
WORKERS = 4  # hosts alive at once (each is a process with threads; the sandbox caps pids)

# (label, imports made first in a fresh host: (module, name to import from it or None)). The
# rest of the app is imported after them, then the same few requests are made in every order
# and their outcomes compared.
ORDERS: list[tuple[str, list[tuple[str, str | None]]]] = [
    ("the web app (import shop.api)", [("shop.api", None)]),
    (
        "the worker (from shop.services import UserService)",
        [("shop", None), ("shop.services", "UserService")],
    ),
] + [
    ("import " + ", then ".join(order), [(name, None) for name in order])
    for order in itertools.permutations(SUBMODULES)
]


@dataclass
class OrderRun:
    label: str
    outcome: str | None  # the JSON outcome of the requests; None if the host crashed
    error: str = ""


class _Session:
    """One host driven under a deadline: every import and call waits at most what is left."""

    def __init__(self, client: HostClient, deadline: float) -> None:
        self.client, self.deadline = client, deadline
        self.builtins = self.module("builtins")

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise HostTimeout("the time for this import order was used up")
        return left

    def module(self, name: str) -> Remote:
        # HostClient.module() has no timeout of its own: the same request, with one.
        return self.client.request({"op": "import", "module": name}, timeout=self._left())

    def call(self, function: Member | Remote, *args: Any, **kwargs: Any) -> Any:
        if isinstance(function, Member):
            return function.start(*args, **kwargs).result(self._left())
        return self.client.start_call(function, None, args, kwargs).result(self._left())

    def attr(self, value: Any, name: str) -> Any:
        return self.call(self.builtins.getattr, value, name)

    def plain(self, value: Any, depth: int = 0) -> Any:
        """JSON-comparable form of an answer: objects by their (address-masked) repr."""
        if isinstance(value, Remote):
            try:
                text = self.call(self.builtins.repr, value)
            except RemoteError as error:
                return f"<object: repr() raised {error_text(error)}>"
            return f"<object {bounded(text) if isinstance(text, str) else '?'}>"
        if depth > 8:
            return "<nested too deep>"
        if isinstance(value, list | tuple):
            return [self.plain(item, depth + 1) for item in value]
        if isinstance(value, set | frozenset):
            return sorted(json.dumps(self.plain(item, depth + 1), sort_keys=True) for item in value)
        if isinstance(value, dict):
            return {
                key if isinstance(key, str) else repr(self.plain(key, depth + 1)): self.plain(
                    item, depth + 1
                )
                for key, item in value.items()
            }
        if isinstance(value, bytes):
            return repr(value)
        return value


def _describe_user(session: _Session, user: Any) -> list[Any]:
    kind = session.call(session.builtins.type, user)
    facts = [session.attr(kind, "__module__"), session.attr(kind, "__qualname__")]
    facts += [session.attr(user, name) for name in ("id", "name", "email", "active")]
    return session.plain(facts)


# (request, what the judge does for it). Each gets the session and the app's modules by name.
REQUESTS: list[tuple[str, Callable[[_Session, dict[str, Remote]], Any]]] = [
    (
        "UserService().create(' Ana Souza ', ' Ana.Souza@Example.COM ')",
        lambda s, m: _describe_user(
            s,
            s.call(
                s.call(m["shop.services"].UserService).create,
                " Ana Souza ",
                " Ana.Souza@Example.COM ",
            ),
        ),
    ),
    (
        "User(id=7, name='Bo', email=' BO@Example.org ')",
        lambda s, m: _describe_user(
            s, s.call(m["shop.models"].User, id=7, name="Bo", email=" BO@Example.org ")
        ),
    ),
    (
        "POST /users",
        lambda s, m: s.plain(
            s.call(m["shop.api"].post_users, {"name": "Cy", "email": "CY@example.net"})
        ),
    ),
    ("api.response_schema()", lambda s, m: s.plain(s.call(m["shop.api"].response_schema))),
]


def _probe(client: HostClient, label: str, steps: list[tuple[str, str | None]], deadline: float):
    try:
        session = _Session(client, deadline)
        for module, name in steps:
            handle = session.module(module)
            if name is not None:
                session.attr(handle, name)
        modules = {name: session.module(name) for name in ("shop.api", *SUBMODULES)}
    except RemoteError as error:
        # As the interpreter prints it, without the trailing "(/path/to/module.py)".
        return OrderRun(label, None, re.sub(r" \(/[^()]*\)$", "", error_text(error)))
    except HostTimeout:
        return OrderRun(label, None, f"did not finish importing within {ORDER_SECONDS:g} s")
    except HostFailure as failure:
        return OrderRun(label, None, bounded(str(failure), 400))

    outcome: dict[str, Any] = {}
    try:
        for request, action in REQUESTS:
            try:
                outcome[request] = action(session, modules)
            except RemoteError as error:
                outcome[request] = f"raised {error_text(error)}"
    except HostTimeout:
        return OrderRun(label, None, f"did not answer the requests within {ORDER_SECONDS:g} s")
    except HostFailure as failure:
        return OrderRun(label, None, bounded(str(failure), 400))
    return OrderRun(label, json.dumps(outcome, sort_keys=True))


def run_orders(hosts: Any) -> tuple[list[OrderRun], list[OrderRun]]:
    """Every import order in a fresh candidate host, and in a fresh starter host.

    ``WORKERS`` hosts run at once, the two subjects' orders interleaved (a candidate whose
    imports hang does not hold up the baseline); each host is closed as soon as its order is
    done. Each subject has ``BUDGET_SECONDS`` from its first order on.
    """
    deadlines: dict[str, float] = {}

    def one(job: tuple[str, str, list[tuple[str, str | None]]]) -> OrderRun:
        subject, label, steps = job
        deadline = deadlines.setdefault(subject, time.monotonic() + BUDGET_SECONDS)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return OrderRun(label, None, "not run: the time budget was used up")
        client = hosts.candidate() if subject == "candidate" else hosts.starter()
        try:
            return _probe(client, label, steps, time.monotonic() + min(ORDER_SECONDS, remaining))
        finally:
            client.close()

    jobs = [
        (subject, label, steps) for label, steps in ORDERS for subject in ("starter", "candidate")
    ]
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="import-order") as pool:
        runs = list(pool.map(one, jobs))
    return runs[1::2], runs[0::2]


def count_bad(runs: list[OrderRun]) -> int:
    """Orders that crashed, plus those whose requests behaved unlike the largest agreeing group."""
    started = Counter(run.outcome for run in runs if run.outcome is not None)
    crashed = sum(run.outcome is None for run in runs)
    return crashed + sum(started.values()) - max(started.values(), default=0)


def describe_difference(runs: list[OrderRun]) -> str:
    """Name two import orders whose requests gave different results, and the first difference."""
    started = [run for run in runs if run.outcome is not None]
    groups = Counter(run.outcome for run in started)
    if len(groups) < 2:
        return ""
    common = groups.most_common(1)[0][0]
    usual = next(run for run in started if run.outcome == common)
    odd = next(run for run in started if run.outcome != common)
    a, b = json.loads(usual.outcome or "{}"), json.loads(odd.outcome or "{}")
    key = next(k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
    return (
        f"after {odd.label!r}, {key} gave {bounded(repr(b.get(key)), 300)}; "
        f"after {usual.label!r} it gave {bounded(repr(a.get(key)), 300)}"
    )
