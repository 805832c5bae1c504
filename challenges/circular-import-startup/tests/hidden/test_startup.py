"""Startup check: the package imports, and behaves the same, whichever module comes first."""

from __future__ import annotations

from import_orders import ORDERS, count_bad, describe_difference, run_orders


def test_every_import_order_starts_and_behaves_the_same(evidence, hosts):
    runs, starter_runs = run_orders(hosts)
    bad = count_bad(runs)
    starter_bad = count_bad(starter_runs)

    evidence.metric(
        "failing_import_orders",
        bad,
        unit="orders",
        limit=0,
        starter=starter_bad,
        label=f"import orders (of {len(ORDERS)}) that crash or change behaviour",
    )
    if starter_bad == 0:
        evidence.suspect(
            "starts-in-any-order: the starter started and behaved the same in every import "
            "order in this run (its circular import crashes some of them); the check is not "
            "trusted"
        )
    crashed = [run for run in runs if run.outcome is None]
    problems: list[str] = []
    if crashed:
        names = "; ".join(run.label for run in crashed[1:])
        problems.append(
            f"{crashed[0].label} crashes at startup: {crashed[0].error} "
            f"({len(crashed)} of {len(ORDERS)} import orders crash"
            + (f"; also {names})" if names else ")")
        )
    difference = describe_difference(runs)
    if difference:
        problems.append(f"the app behaves differently depending on import order: {difference}")
    assert bad == 0, " | ".join(problems) + f" (starter: {starter_bad} bad orders)"
