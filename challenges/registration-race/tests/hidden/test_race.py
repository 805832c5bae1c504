"""Checks: concurrent sign-ups for one username create exactly one account.

The starter runs the same bursts in a host of its own, in the same run: it must show the race
(several accounts for one username), or the check cannot be trusted.
"""

from __future__ import annotations

import random
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from hidden_support import REQUESTS, Outcomes, SignupService, Table, shared_folder

# Per run, a number ends every contested username (the same in every spelling of it).
_NUMBER = str(random.SystemRandom().randrange(10, 100))

# Two popular names, each requested by REQUESTS sign-ups at the same moment (a double-tapped
# button, a retrying client, two people racing for the same name).
CONTESTED = [f"maya{_NUMBER}", f"noah_k{_NUMBER}"]

# REQUESTS spellings of one username that differ only in case and surrounding blanks.
SPELLINGS = [
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
VARIANTS = [re.sub(r"(\S+)", rf"\g<1>{_NUMBER}", spelling) for spelling in SPELLINGS]
VARIANTS_KEY = f"maya_k{_NUMBER}"
assert len(set(VARIANTS)) == REQUESTS
assert {variant.strip().lower() for variant in VARIANTS} == {VARIANTS_KEY}

# Every burst, by the username it contests: what the starter's baseline runs, on one database.
GROUPS = {**{name: [name] * REQUESTS for name in CONTESTED}, VARIANTS_KEY: VARIANTS}


def contest(host, folder: Path, groups: dict[str, list[str]]) -> tuple[dict[str, Outcomes], Table]:
    """One burst of sign-ups per group, one after the other; what the API answered, and the
    table as the judge reads it once the host is closed."""
    service = SignupService(host, folder)
    service.warm()
    outcomes = {key: Outcomes.of(service.signups(names)) for key, names in groups.items()}
    return outcomes, service.close()


def judge(groups: dict[str, list[str]], outcomes: dict[str, Outcomes], table: Table) -> list[str]:
    """What went wrong, per contested username, against the one-winner rule."""
    if table.problem:
        return [f"after the sign-ups, {table.problem}"]
    problems = []
    for key, names in groups.items():
        got = outcomes[key]
        stored = table.rows_for(key)
        label = f"{len(names)} concurrent sign-ups for {key!r}"
        if len(stored) != 1:
            problem = f"{label} created {len(stored)} accounts (expected exactly 1)"
            if got.other:
                problem += f", and {len(got.other)} were not answered 201 or 409: "
                problem += got.describe_other()
            problems.append(problem)
        elif got.other:
            problems.append(
                f"{label}: {len(got.other)} were not answered 201 or 409 (UsernameTakenError): "
                f"{got.describe_other()}"
            )
        elif len(got.created) != 1 or len(got.taken) != len(names) - 1:
            problems.append(
                f"{label}: {len(got.created)} were answered 201 and {len(got.taken)} 409 "
                f"(UsernameTakenError); expected 1 and {len(names) - 1}"
            )
        else:
            body, row = got.created[0].body, stored[0]
            if (body.get("id"), body.get("username")) != (row[0], row[1]) or row[1] != key:
                problems.append(
                    f"{label}: the winner was answered id={body.get('id')!r:.40} "
                    f"username={body.get('username')!r:.40}, but the table holds "
                    f"id={row[0]!r:.40} username={row[1]!r:.40}"
                )
    return problems


@pytest.fixture(scope="module")
def baseline(pool) -> Iterator[tuple[dict[str, Outcomes], Table]]:
    """The starter's answers and table for every contested username, measured once in this run
    (in a starter host of its own, on one database), by the same bursts as the candidate's."""
    folder = shared_folder()
    try:
        yield contest(pool.take("starter"), folder, GROUPS)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(
    evidence,
    baseline: tuple[dict[str, Outcomes], Table],
    candidate,
    folder: Path,
    groups: dict[str, list[str]],
    what: str,
) -> None:
    before, before_table = {key: baseline[0][key] for key in groups}, baseline[1]
    after, after_table = contest(candidate, folder, groups)

    def most(table: Table) -> int:
        return max(len(table.rows_for(key)) for key in groups)

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
        label="sign-ups answered neither 201 nor 409 (UsernameTakenError)",
    )
    if before_table.problem or most(before_table) <= 1:
        evidence.suspect(
            f"the starter created at most one account per username in this run ({what}): the "
            "race did not show, so the candidate's result is not trusted"
        )
    problems = judge(groups, after, after_table)
    if problems:
        pytest.fail("; ".join(problems))


def test_one_account_per_username_under_concurrent_signups(evidence, baseline, candidate, folders):
    groups = {name: GROUPS[name] for name in CONTESTED}
    measure(evidence, baseline, candidate, folders(), groups, "same spelling")


def test_case_variants_of_a_username_get_one_account(evidence, baseline, candidate, folders):
    groups = {VARIANTS_KEY: GROUPS[VARIANTS_KEY]}
    measure(evidence, baseline, candidate, folders(), groups, "different case")
