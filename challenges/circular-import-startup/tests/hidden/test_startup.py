"""Startup check: the package imports, and behaves the same, whichever module comes first."""

from __future__ import annotations

import os
from pathlib import Path

from import_orders import ORDERS, count_bad, describe_difference, run_orders, source_dir


def test_every_import_order_starts_and_behaves_the_same(evidence):
    runs = run_orders(source_dir())
    bad = count_bad(runs)

    starter_bad = None
    starter_dir = os.environ.get("FAULTLINE_STARTER_DIR")
    if starter_dir:
        starter_bad = count_bad(run_orders(Path(starter_dir)))

    evidence.metric(
        "failing_import_orders",
        bad,
        unit="orders",
        limit=0,
        starter=starter_bad,
        label=f"import orders (of {len(ORDERS)}) that crash or change behaviour",
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
