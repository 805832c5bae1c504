"""Fresh-interpreter import runs for the startup check.

Import problems only show in a fresh interpreter, so each import order runs in its own
``python -I -S -B`` process (isolated: no environment, no site, no bytecode written) with the
package's folder first on ``sys.path``, then makes the same few requests; the outcomes of all
orders are compared.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import json
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

MARKER = "FAULTLINE-OUTCOME "
SUBMODULES = ("shop.models", "shop.services", "shop.validation")

# (label, statements run first in a fresh interpreter). The rest of the app is imported after
# them, then the same few requests are made in every order and their outcomes compared.
ORDERS: list[tuple[str, list[str]]] = [
    ("the web app (import shop.api)", ["import shop.api"]),
    (
        "the worker (from shop.services import UserService)",
        [
            "import shop",
            "from shop.services import UserService",
        ],
    ),
] + [
    ("import " + ", then ".join(order), [f"import {name}" for name in order])
    for order in itertools.permutations(SUBMODULES)
]

PROBE = r"""
import json, re, sys
sys.path.insert(0, sys.argv[1])
for statement in json.loads(sys.argv[2]):
    exec(statement, {})
import shop.api, shop.models, shop.services, shop.validation

models, services, api = shop.models, shop.services, shop.api


def attempt(action):
    try:
        return action()
    except Exception as exc:
        return re.sub(r"0x[0-9a-fA-F]+", "0x?", f"raised {type(exc).__name__}: {exc}")


def describe(user):
    kind = type(user)
    return [kind.__module__, kind.__qualname__, user.id, user.name, user.email, user.active]


outcome = {
    "UserService().create(' Ana Souza ', ' Ana.Souza@Example.COM ')": attempt(
        lambda: describe(services.UserService().create(" Ana Souza ", " Ana.Souza@Example.COM "))
    ),
    "User(id=7, name='Bo', email=' BO@Example.org ')": attempt(
        lambda: describe(models.User(id=7, name="Bo", email=" BO@Example.org "))
    ),
    "POST /users": attempt(lambda: api.post_users({"name": "Cy", "email": "CY@example.net"})),
    "api.response_schema()": attempt(api.response_schema),
}
print("FAULTLINE-OUTCOME " + json.dumps(outcome, sort_keys=True, default=repr))
"""


@dataclass
class OrderRun:
    label: str
    outcome: str | None  # the JSON outcome of the requests; None if the process crashed
    error: str = ""


def source_dir() -> Path:
    """The folder holding the candidate's ``shop`` package (found without importing it)."""
    spec = importlib.util.find_spec("shop")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("there is no importable 'shop' package")
    return Path(next(iter(spec.submodule_search_locations))).parent


def run_orders(folder: Path, budget_seconds: float = 20.0) -> list[OrderRun]:
    """Start a fresh interpreter per import order against the package in ``folder``."""
    deadline = time.monotonic() + budget_seconds
    runs: list[OrderRun] = []
    for label, statements in ORDERS:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            runs.append(OrderRun(label, None, "not run: the time budget was used up"))
            continue
        command = [sys.executable, "-I", "-S", "-B", "-c", PROBE, str(folder)]
        try:
            done = subprocess.run(
                [*command, json.dumps(statements)],
                cwd=folder,
                env={},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=min(10.0, remaining),
            )
        except subprocess.TimeoutExpired:
            runs.append(OrderRun(label, None, "did not finish importing within 10 s"))
            continue
        lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
        if done.returncode == 0 and lines:
            runs.append(OrderRun(label, lines[-1][len(MARKER) :]))
        else:
            errors = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            last = errors[-1] if errors else f"exited with code {done.returncode}"
            runs.append(OrderRun(label, None, re.sub(r" \(/[^()]*\)$", "", last)[:400]))
    return runs


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
        f"after {odd.label!r}, {key} gave {b.get(key)!r}; "
        f"after {usual.label!r} it gave {a.get(key)!r}"
    )
