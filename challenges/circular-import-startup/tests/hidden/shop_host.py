"""The candidate's ``shop`` package, loaded in a candidate host and inspected from the judge.

The judge never holds one of the candidate's objects, only handles to them. What the in-process
checks asked Python directly (is this the same object, what type is it, what are its type hints,
did this call raise that exception class) is asked of the host instead, through standard-library
functions run there (``builtins``, ``operator``, ``typing``, ``dataclasses``,
``concurrent.futures``); the answers come back as plain data.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from faultline_harness.judge import HostClient, HostTimeout, Remote, RemoteError

SUBMODULES = ("shop.models", "shop.services", "shop.validation")
SHOWN_CHARS = 200
IMPORT_SECONDS = 5.0  # importing the package in the behaviour checks, all attempts together
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


def bounded(text: str, limit: int = SHOWN_CHARS) -> str:
    text = _ADDRESS.sub("0x?", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_text(error: RemoteError) -> str:
    """``Type: message`` of an exception the candidate's code raised, addresses masked."""
    return bounded(f"{error.type_name}: {error.message}", 400)


class Inspector:
    """Questions about objects in one host, answered by the host's standard library."""

    def __init__(self, client: HostClient) -> None:
        self.client = client
        self.builtins = client.module("builtins")
        self.operator = client.module("operator")
        self._executor: Remote | None = None

    def same(self, a: Any, b: Any) -> bool:
        """``a is b``, evaluated in the host (handles to one object are distinct numbers here)."""
        return self.operator.is_(a, b) is True

    def type_of(self, value: Any) -> Remote:
        return self.builtins.type(value)

    def attr(self, value: Any, name: str) -> Any:
        return self.builtins.getattr(value, name)

    def has(self, value: Any, name: str) -> bool:
        return self.builtins.hasattr(value, name) is True

    def show(self, value: Any) -> str:
        """How an observed value looks, for assertion messages (bounded, addresses masked)."""
        if not isinstance(value, Remote):
            return bounded(repr(value))
        try:
            text = self.builtins.repr(value)
        except RemoteError as error:
            return f"<an object whose repr() raised {error_text(error)}>"
        return bounded(text) if isinstance(text, str) else "<an object>"

    def failure_to_raise(self, exc_class: Remote, function: Remote, *args: Any, **kwargs: Any):
        """``None`` if ``function(*args, **kwargs)`` raised ``exc_class`` (or a subclass of it)
        in the host, like ``pytest.raises``; otherwise what happened instead.

        The call runs on a plain ``concurrent.futures`` worker thread of the host, whose future
        hands the exception back as an object: the host checks ``isinstance`` on it. (No test
        framework's frame is on the candidate's stack, as in every other call.)
        """
        if self._executor is None:
            futures = self.client.module("concurrent.futures")
            self._executor = futures.ThreadPoolExecutor(1)
        future = self._executor.submit(function, *args, **kwargs)
        raised = future.exception()
        if raised is None:
            return f"it returned {self.show(future.result())}"
        if self.builtins.isinstance(raised, exc_class) is True:
            return None
        try:
            kind = self.attr(self.type_of(raised), "__name__")
            text = self.builtins.str(raised)
        except RemoteError as error:
            return f"it raised an exception that cannot be described ({error_text(error)})"
        return f"it raised {bounded(str(kind), 100)}: {bounded(str(text))}"


@dataclass
class Shop:
    """Handles to the modules of one freshly imported ``shop`` package, and its host."""

    client: HostClient
    inspect: Inspector
    models: Remote
    services: Remote
    validation: Remote
    api: Remote


def load_shop(hosts: Any) -> Shop:
    """The candidate's package, imported in a fresh host in the first order that works.

    The starter only imports when ``shop.services`` comes first; the startup check covers the
    other orders, so the behaviour checks do not fail twice for the same problem. Each attempt
    gets a host of its own: a failed import leaves half-initialised modules behind.
    """
    problems: list[str] = []
    deadline = time.monotonic() + IMPORT_SECONDS
    for first in ("shop.services", "shop.models", "shop.validation"):
        client = hosts.candidate()
        try:
            # HostClient.module() has no timeout of its own: the same request, with one.
            loaded = {
                name: client.request(
                    {"op": "import", "module": name},
                    timeout=max(0.01, deadline - time.monotonic()),
                )
                for name in dict.fromkeys((first, *SUBMODULES, "shop.api"))
            }
        except RemoteError as error:
            problems.append(f"{first} first: {error_text(error)}")
            client.close()
            continue
        except HostTimeout:
            client.close()
            pytest.fail(
                f"importing the shop package ({first} first) took over {IMPORT_SECONDS:g} s"
            )
        return Shop(
            client=client,
            inspect=Inspector(client),
            models=loaded["shop.models"],
            services=loaded["shop.services"],
            validation=loaded["shop.validation"],
            api=loaded["shop.api"],
        )
    pytest.fail("the shop package cannot be imported in any order: " + "; ".join(problems))
