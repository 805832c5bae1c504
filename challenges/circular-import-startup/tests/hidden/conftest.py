"""Fixtures for the hidden checks.

The behaviour checks import the package once in this process, in whichever order works, so they
judge behaviour and not import order (the startup check covers that).
"""

from __future__ import annotations

import importlib
import sys
from types import SimpleNamespace

import pytest

SUBMODULES = ("shop.models", "shop.services", "shop.validation")


def forget_shop() -> None:
    for name in [n for n in sys.modules if n == "shop" or n.startswith("shop.")]:
        del sys.modules[name]


@pytest.fixture(scope="session")
def shop() -> SimpleNamespace:
    """The candidate's package, imported in this process in the first order that works.

    The starter only imports when ``shop.services`` comes first; the startup check covers the
    other orders, so the behaviour checks do not fail twice for the same problem.
    """
    problems: list[str] = []
    for first in ("shop.services", "shop.models", "shop.validation"):
        forget_shop()
        try:
            loaded = {
                name: importlib.import_module(name) for name in (first, *SUBMODULES, "shop.api")
            }
        except Exception as exc:
            problems.append(f"{first} first: {type(exc).__name__}: {exc}")
            continue
        return SimpleNamespace(
            models=loaded["shop.models"],
            services=loaded["shop.services"],
            validation=loaded["shop.validation"],
            api=loaded["shop.api"],
        )
    pytest.fail("the shop package cannot be imported in any order: " + "; ".join(problems))
