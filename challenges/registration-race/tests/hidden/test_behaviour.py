"""Checks: sign-ups that do not compete keep working as the brief promises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from faultline_harness.judge import Call, RemoteError
from hidden_support import REQUESTS, SignupService, bounded, describe, read_created

DISTINCT = [
    "ana_souza",
    "Bram_dV",
    "chen_wei",
    "DARA",
    "emile_l",
    "Farah_H",
    "giulia_r",
    "hiro_t",
    " ines ",
    "Jonas_2",
    "kofi",
    "LENA_M",
]
assert len(DISTINCT) == REQUESTS
LATECOMERS = ["marta", "nils_o", "Omar", "pia_s", "quinn", "ravi"]


def test_different_usernames_signed_up_at_once_all_succeed(evidence, candidate, folders):
    problems: list[str] = []
    service = SignupService(candidate, folders())
    service.warm()

    results = service.burst(service.service.register, DISTINCT)
    views = service.accounts(results)
    refused = [index for index, view in enumerate(views) if view is None]
    if refused:
        first = refused[0]
        problems.append(
            f"{len(refused)} of {len(DISTINCT)} sign-ups for different usernames failed: "
            f"register({DISTINCT[first]!r}) {describe(results[first])}"
        )
    for raw, view in zip(DISTINCT, views, strict=True):
        want = (raw.strip().lower(), raw.strip())
        if view is not None and view[1:] != want:
            problems.append(
                f"register({raw!r}) returned username={view[1]!r:.40} "
                f"display_name={view[2]!r:.40}, expected {want[0]!r}/{want[1]!r}"
            )
            break

    # New names and repeats of names already taken, all at once.
    mixed = LATECOMERS + [name.upper() for name in DISTINCT[: len(LATECOMERS)]]
    for name, answer in zip(mixed, service.signups(mixed), strict=True):
        if name in LATECOMERS and answer.status != 201:
            problems.append(f"POST /signup for the new username {name!r}: {answer.describe()}")
            break
        if name not in LATECOMERS and answer.status != 409:
            problems.append(
                f"POST /signup for the taken username {name!r}: {answer.describe()} "
                "(expected 409, UsernameTakenError)"
            )
            break

    for raw in DISTINCT[:4] + LATECOMERS[:2]:
        found = service.call(service.service.get_account, raw.upper())
        (view,) = service.accounts([found])
        if view is None or view[1] != raw.strip().lower():
            shown = describe(found) if view is None else f"username={view[1]!r:.40}"
            problems.append(f"get_account({raw.upper()!r}) {shown}")
            break

    table = service.close()
    expected = sorted(name.strip().lower() for name in DISTINCT + LATECOMERS)
    stored = sorted(str(row[1]) for row in table.rows)
    if table.problem:
        problems.append(f"after the sign-ups, {table.problem}")
    elif stored != expected:
        problems.append(f"the table holds {len(stored)} accounts, expected {len(expected)}")
    evidence.metric(
        "accounts_created",
        len(table.rows),
        unit="accounts",
        limit=len(expected),
        better="higher",
        label=f"accounts created for {len(expected)} different usernames",
    )
    if problems:
        pytest.fail("; ".join(problems))


def test_duplicate_after_first_signup_is_taken_in_any_case(candidate, folders):
    problems: list[str] = []
    service = SignupService(candidate, folders())
    register = service.service.register

    first_result = service.call(register, "Maya_K")
    (first,) = service.accounts([first_result])
    if first is None:
        pytest.fail(f"register('Maya_K') on an empty database {describe(first_result)}")
    if first[1:] != ("maya_k", "Maya_K"):
        problems.append(
            f"register('Maya_K') returned username={first[1]!r:.40} "
            f"display_name={first[2]!r:.40}, expected 'maya_k'/'Maya_K'"
        )
    hashed, changed = service.host.batch(
        [
            Call(service.builtins.hash, first_result),
            Call(service.builtins.setattr, first_result, "username", "somebody_else"),
        ]
    )
    unfrozen = [
        fault
        for fault, found in (
            ("it cannot be hashed", isinstance(hashed, RemoteError)),
            ("its fields can be changed", not isinstance(changed, RemoteError)),
        )
        if found
    ]
    if unfrozen:
        problems.append(
            "the Account register returns is no longer a frozen dataclass: "
            + " and ".join(unfrozen)
        )
    for again in ["Maya_K", "maya_k", "  MAYA_K ", "mAyA_k"]:
        answer = service.signup({"username": again})
        if answer.status != 409:
            problems.append(
                f"register({again!r}) after 'Maya_K' did not raise UsernameTakenError "
                f"(POST /signup {answer.describe()})"
            )
    second_result = service.call(register, "maya_k2")
    (second,) = service.accounts([second_result])
    if second is None:
        problems.append(f"register('maya_k2') {describe(second_result)}")
    elif second[0] == first[0]:
        problems.append("a different username got the same account id")
    found_result = service.call(service.service.get_account, "MAYA_K")
    (found,) = service.accounts([found_result])
    if found != first:
        shown = describe(found_result) if found is None else bounded(found)
        problems.append(f"get_account('MAYA_K') gave {shown}, expected {bounded(first)}")
    nobody = service.call(service.service.get_account, "nobody")
    if nobody is not None:
        problems.append(f"get_account('nobody') {describe(nobody)}, expected None")

    table = service.close()
    if table.problem:
        problems.append(f"after the sign-ups, {table.problem}")
    elif [row[1:] for row in table.rows] != [("maya_k", "Maya_K"), ("maya_k2", "maya_k2")]:
        problems.append(f"the table holds {bounded([row[1:] for row in table.rows], 200)}")
    if problems:
        pytest.fail("; ".join(problems))


def test_signup_rules_and_http_statuses(candidate, folders):
    problems: list[str] = []
    invalid = ["ab", "has space", "x" * 21, "émile", "", "   ", "maya-k", "dot.name"]
    service = SignupService(candidate, folders())

    for name in invalid:
        answer = service.signup({"username": name})
        if answer.status != 422:
            problems.append(
                f"register({name!r}) did not raise InvalidUsernameError "
                f"(POST /signup {answer.describe()})"
            )
    answers = [
        service.signup({"username": "New_User"}),
        service.signup({"username": "new_user"}),
        service.signup({"username": "no"}),
        service.signup({}),
        service.profile("NEW_USER"),
        service.profile("ghost"),
    ]
    statuses = [answer.status if answer.status is not None else "error" for answer in answers]
    if statuses != [201, 409, 422, 422, 200, 404]:
        problems.append(f"the sign-up API answered {statuses}, expected 201/409/422/422/200/404")
    created = service.signup({"username": " Zoe_99 "})
    body = created.body
    if (created.status, body.get("username"), body.get("display_name")) != (
        201,
        "zoe_99",
        "Zoe_99",
    ):
        problems.append(
            f"POST /signup ' Zoe_99 ' {created.describe()} with username="
            f"{body.get('username')!r:.40} display_name={body.get('display_name')!r:.40}, "
            "expected 201 with 'zoe_99'/'Zoe_99'"
        )
    if problems:
        pytest.fail("; ".join(problems))


COLUMNS = {
    "id": "INTEGER",
    "username": "VARCHAR(20)",
    "display_name": "VARCHAR(20)",
    "created_at": "DATETIME",
}
"""Each column and its type as SQLAlchemy declares it on SQLite (``DateTime`` with or without a
time zone is ``DATETIME`` there)."""
CREATED_SLACK = timedelta(days=1)  # a time zone's offset, whatever the host's clock zone


def _created_time(value: object) -> datetime | None:
    """A stored ``created_at`` as a naive UTC time (SQLAlchemy stores ISO text in SQLite, and
    naive times; epoch seconds are read as well). None for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).replace(tzinfo=None)
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def test_accounts_table_keeps_its_columns(candidate, folders):
    """The login and reporting services read id, username, display_name and created_at of
    every account: the columns stay, and every sign-up records when it was made."""
    problems: list[str] = []
    folder = folders()
    began = datetime.now(UTC).replace(tzinfo=None)
    service = SignupService(candidate, folder)
    names = ["Maya_K", " ines ", "kofi", "LENA_M"]
    for name in names[:2]:
        answer = service.signup({"username": name})
        if answer.status != 201:
            problems.append(f"POST /signup {name!r}: {answer.describe()}")
    for name, answer in zip(names[2:], service.signups(names[2:]), strict=True):
        if answer.status != 201:
            problems.append(f"POST /signup {name!r} (at once with another): {answer.describe()}")
    service.host.close()  # every process of its uid stops: the files are final
    ended = datetime.now(UTC).replace(tzinfo=None)

    stored = read_created(folder)
    missing = [column for column in COLUMNS if column not in stored.columns]
    if missing:
        problems.append(f"the accounts table has no {', '.join(missing)} column")
    retyped = [
        f"{column} is {bounded(stored.types[column], 40)}, not {kind}"
        for column, kind in COLUMNS.items()
        if column in stored.types and stored.types[column] != kind
    ]
    if retyped:
        problems.append(
            "the columns' types changed (the table definition becomes the production "
            "migration): " + ", ".join(retyped)
        )
    if stored.problem:
        problems.append(f"after the sign-ups, {stored.problem}")
    else:
        if sorted(str(username) for username, _ in stored.created) != sorted(
            name.strip().lower() for name in names
        ):
            problems.append(
                f"the table holds {len(stored.created)} accounts, expected {len(names)}"
            )
        for username, created in stored.created:
            when = _created_time(created)
            if when is None:
                shown = "NULL" if created is None else f"a {type(created).__name__} that is no time"
                problems.append(f"the account {str(username)[:40]!r} has created_at {shown}")
                break
            if not began - CREATED_SLACK <= when <= ended + CREATED_SLACK:
                problems.append(
                    f"the account {str(username)[:40]!r} has created_at {bounded(created, 40)}, "
                    "not the time it signed up"
                )
                break
    if problems:
        pytest.fail("; ".join(problems))
