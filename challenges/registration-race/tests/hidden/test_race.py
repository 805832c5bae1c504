"""Checks: concurrent sign-ups for one username create exactly one account."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from hidden_support import REQUESTS, Outcomes, burst, classify, open_service, rows, rows_for

# Two popular names, each requested by REQUESTS sign-ups at the same moment (a double-tapped
# button, a retrying client, two people racing for the same name).
CONTESTED = ["maya", "noah_k"]

# REQUESTS spellings of one username that differ only in case and surrounding blanks.
VARIANTS = [
    "Maya_K",
    "maya_k",
    "MAYA_K",
    "maya_K",
    "Maya_k",
    " maya_k",
    "maya_k ",
    "mAyA_k",
    "MaYa_K",
    "MAYA_k",
    "mAYA_K",
    "  Maya_K  ",
]
assert len(set(VARIANTS)) == REQUESTS


async def contest(module: ModuleType, path: Path, groups: dict[str, list[str]]):
    """Fire one burst per group, one after the other; return outcomes and the table."""
    service, engine = await open_service(module, path)
    try:
        outcomes = {
            key: classify(module, await burst(service, names)) for key, names in groups.items()
        }
        table = await rows(engine)
    finally:
        await engine.dispose()
    return outcomes, table


def judge(
    groups: dict[str, list[str]],
    outcomes: dict[str, Outcomes],
    table: list[tuple[int, str, str]],
) -> list[str]:
    """What went wrong, per contested username, against the one-winner rule."""
    problems = []
    for key, names in groups.items():
        got = outcomes[key]
        stored = rows_for(table, key)
        label = f"{len(names)} concurrent sign-ups for {key!r}"
        if len(stored) != 1:
            problems.append(f"{label} created {len(stored)} accounts (expected exactly 1)")
        elif got.other:
            problems.append(
                f"{label}: {len(got.other)} failed with an error other than "
                f"UsernameTakenError ({got.describe_other()})"
            )
        elif len(got.accounts) != 1 or len(got.taken) != len(names) - 1:
            problems.append(
                f"{label}: {len(got.accounts)} succeeded and {len(got.taken)} got "
                f"UsernameTakenError (expected 1 and {len(names) - 1})"
            )
        else:
            winner, row = got.accounts[0], stored[0]
            if (winner.id, winner.username) != (row[0], row[1]) or row[1] != key:
                problems.append(
                    f"{label}: the winner got id={winner.id} username={winner.username!r}, "
                    f"but the table holds id={row[0]} username={row[1]!r}"
                )
    return problems


def measure(evidence, starter, tmp_path: Path, run, groups: dict[str, list[str]], what: str):
    import accounts

    original = starter.load("accounts")
    before, before_table = run(contest(original, tmp_path / "starter.db", groups))
    after, after_table = run(contest(accounts, tmp_path / "candidate.db", groups))

    def most(table: list[tuple[int, str, str]]) -> int:
        return max(len(rows_for(table, key)) for key in groups)

    def unclear(outcomes: dict[str, Outcomes]) -> int:
        return sum(len(got.other) for got in outcomes.values())

    evidence.metric(
        "accounts_per_username",
        most(after_table),
        unit="accounts",
        limit=1,
        starter=most(before_table),
        label=f"most accounts created for one username by {REQUESTS} concurrent sign-ups ({what})",
    )
    evidence.metric(
        "unclear_errors",
        unclear(after),
        unit="requests",
        limit=0,
        starter=unclear(before),
        label="sign-ups that failed with an error other than UsernameTakenError",
    )
    problems = judge(groups, after, after_table)
    if problems:
        pytest.fail("; ".join(problems))


def test_one_account_per_username_under_concurrent_signups(evidence, starter, tmp_path, run):
    groups = {name: [name] * REQUESTS for name in CONTESTED}
    measure(evidence, starter, tmp_path, run, groups, "same spelling")


def test_case_variants_of_a_username_get_one_account(evidence, starter, tmp_path, run):
    measure(evidence, starter, tmp_path, run, {"maya_k": VARIANTS}, "different case")
