"""Checks: sign-ups that do not compete keep working as the brief promises."""

from __future__ import annotations

import pytest
from hidden_support import REQUESTS, burst, open_service, rows

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


def test_different_usernames_signed_up_at_once_all_succeed(evidence, tmp_path, run):
    import accounts

    problems: list[str] = []

    async def scenario() -> list[tuple[int, str, str]]:
        service, engine = await open_service(accounts, tmp_path / "accounts.db")
        try:
            results = await burst(service, DISTINCT)
            refused = [result for result in results if not isinstance(result, accounts.Account)]
            if refused:
                problems.append(
                    f"{len(refused)} of {len(DISTINCT)} sign-ups for different usernames "
                    f"failed: {refused[0]!r:.160}"
                )
            for raw, account in zip(DISTINCT, results, strict=True):
                want = (raw.strip().lower(), raw.strip())
                got = (getattr(account, "username", None), getattr(account, "display_name", None))
                if isinstance(account, accounts.Account) and got != want:
                    problems.append(
                        f"register({raw!r}) returned username={got[0]!r} "
                        f"display_name={got[1]!r}, expected {want[0]!r}/{want[1]!r}"
                    )
                    break
            # New names and repeats of names already taken, all at once.
            mixed = LATECOMERS + [name.upper() for name in DISTINCT[: len(LATECOMERS)]]
            second = await burst(service, mixed)
            for name, result in zip(mixed, second, strict=True):
                new = name in LATECOMERS
                if new and not isinstance(result, accounts.Account):
                    problems.append(f"new username {name!r} was refused: {result!r:.160}")
                    break
                if not new and not isinstance(result, accounts.UsernameTakenError):
                    problems.append(f"taken username {name!r} gave {result!r:.160}")
                    break
            for raw in DISTINCT[:4] + LATECOMERS[:2]:
                found = await service.get_account(raw.upper())
                if found is None or found.username != raw.strip().lower():
                    problems.append(f"get_account({raw.upper()!r}) returned {found!r:.160}")
                    break
            return await rows(engine)
        finally:
            await engine.dispose()

    table = run(scenario())
    expected = sorted(name.strip().lower() for name in DISTINCT + LATECOMERS)
    stored = sorted(row[1] for row in table)
    if stored != expected:
        problems.append(f"the table holds {len(stored)} accounts, expected {len(expected)}")
    evidence.metric(
        "accounts_created",
        len(table),
        unit="accounts",
        limit=len(expected),
        better="higher",
        label=f"accounts created for {len(expected)} different usernames",
    )
    if problems:
        pytest.fail("; ".join(problems))


def test_duplicate_after_first_signup_is_taken_in_any_case(tmp_path, run):
    import accounts

    problems: list[str] = []

    async def scenario() -> list[tuple[int, str, str]]:
        service, engine = await open_service(accounts, tmp_path / "accounts.db")
        try:
            first = await service.register("Maya_K")
            if (first.username, first.display_name) != ("maya_k", "Maya_K"):
                problems.append(
                    f"register('Maya_K') returned username={first.username!r} "
                    f"display_name={first.display_name!r}, expected 'maya_k'/'Maya_K'"
                )
            for again in ["Maya_K", "maya_k", "  MAYA_K ", "mAyA_k"]:
                try:
                    result = await service.register(again)
                except accounts.UsernameTakenError:
                    continue
                except Exception as exc:
                    problems.append(f"register({again!r}) after 'Maya_K' raised {exc!r:.160}")
                else:
                    problems.append(f"register({again!r}) after 'Maya_K' returned {result!r:.160}")
            second = await service.register("maya_k2")
            if second.id == first.id:
                problems.append("a different username got the same account id")
            found = await service.get_account("MAYA_K")
            if found != first:
                problems.append(
                    f"get_account('MAYA_K') returned {found!r:.160}, expected {first!r}"
                )
            if await service.get_account("nobody") is not None:
                problems.append("get_account('nobody') found an account")
            return await rows(engine)
        finally:
            await engine.dispose()

    table = run(scenario())
    if [row[1:] for row in table] != [("maya_k", "Maya_K"), ("maya_k2", "maya_k2")]:
        problems.append(f"the table holds {[row[1:] for row in table]!r:.200}")
    if problems:
        pytest.fail("; ".join(problems))


def test_signup_rules_and_http_statuses(tmp_path, run):
    import accounts
    from api import SignupAPI

    problems: list[str] = []
    invalid = ["ab", "has space", "x" * 21, "émile", "", "   ", "maya-k", "dot.name"]

    async def scenario() -> None:
        service, engine = await open_service(accounts, tmp_path / "accounts.db")
        try:
            for name in invalid:
                try:
                    result = await service.register(name)
                except accounts.InvalidUsernameError:
                    continue
                except Exception as exc:
                    problems.append(f"register({name!r}) raised {exc!r:.160}")
                else:
                    problems.append(f"register({name!r}) was accepted: {result!r:.160}")
            api = SignupAPI(service)
            answers = [
                (await api.signup({"username": "New_User"})).status,
                (await api.signup({"username": "new_user"})).status,
                (await api.signup({"username": "no"})).status,
                (await api.signup({})).status,
                (await api.profile("NEW_USER")).status,
                (await api.profile("ghost")).status,
            ]
            if answers != [201, 409, 422, 422, 200, 404]:
                problems.append(
                    f"the sign-up API answered {answers}, expected 201/409/422/422/200/404"
                )
            created = await api.signup({"username": " Zoe_99 "})
            body = created.body
            if (created.status, body.get("username"), body.get("display_name")) != (
                201,
                "zoe_99",
                "Zoe_99",
            ):
                problems.append(f"POST /signup ' Zoe_99 ' answered {created!r:.200}")
        finally:
            await engine.dispose()

    run(scenario())
    if problems:
        pytest.fail("; ".join(problems))
