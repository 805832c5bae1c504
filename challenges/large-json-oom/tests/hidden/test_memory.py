"""Check: summarizing an export far larger than the worker's memory budget stays within it.

Each run happens in a fresh interpreter; its peak resident memory is read from the kernel's
accounting of that child process (``wait4``), so nothing in the code under test can hide it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hidden_support import (
    META,
    ChildRun,
    describe_difference,
    run_in_child,
    write_big_vendor,
    write_vendor,
)

EXPORT_MB = 28  # the sandbox's scratch space is small; production exports reach several GB
GROWTH_LIMIT_MB = 16.0  # peak RSS above the same code summarizing a one-record export
CHILD_TIMEOUT = 40.0  # seconds; a guard against a hang, not a speed requirement


def _growth(big: ChildRun, small: ChildRun) -> float:
    return big.peak_mb - small.peak_mb


def test_peak_memory_does_not_grow_with_the_export(evidence, starter, tmp_path):
    import settlement

    candidate_dir = Path(settlement.__file__).resolve().parent
    starter_dir = Path(starter.load("settlement").__file__).resolve().parent
    scratch = tmp_path / "runs"
    scratch.mkdir()
    tiny = write_vendor(tmp_path / "tiny.json", [_one_record()], META)
    big = tmp_path / "2024-03-01-big.json"
    try:
        expected, size_mb = write_big_vendor(big, EXPORT_MB, seed=5)
        baseline = run_in_child(candidate_dir, tiny, scratch, CHILD_TIMEOUT)
        assert not baseline.error, f"summarizing a one-record export {baseline.error}"
        run = run_in_child(candidate_dir, big, scratch, CHILD_TIMEOUT)
        starter_baseline = run_in_child(starter_dir, tiny, scratch, CHILD_TIMEOUT)
        starter_run = run_in_child(starter_dir, big, scratch, CHILD_TIMEOUT)
    finally:
        big.unlink(missing_ok=True)  # the scratch space is shared by the whole run

    starter_growth = (
        _growth(starter_run, starter_baseline)
        if not starter_run.error and not starter_baseline.error
        else None
    )
    print(
        f"DEBUG size={size_mb:.1f} base={baseline.peak_mb:.1f} peak={run.peak_mb:.1f} "
        f"t={run.seconds:.2f} starter base={starter_baseline.peak_mb:.1f} "
        f"peak={starter_run.peak_mb:.1f} t={starter_run.seconds:.2f}"
    )
    growth = _growth(run, baseline)
    if run.peak_mb > 0:  # zero when the run was stopped at its time limit
        evidence.metric(
            "peak_memory_growth_mb",
            growth,
            unit="MB",
            limit=GROWTH_LIMIT_MB,
            starter=starter_growth,
            label=f"peak memory above a one-record export's, summarizing a {size_mb:.0f} MB one",
        )
    evidence.metric("export_mb", size_mb, unit="MB", label="size of the large export")
    assert not run.error, f"summarizing a {size_mb:.0f} MB export {run.error}"
    starter_text = f"; starter {starter_growth:.0f} MB" if starter_growth is not None else ""
    if growth > GROWTH_LIMIT_MB:
        pytest.fail(
            f"peak memory grew {growth:.1f} MB while summarizing a {size_mb:.0f} MB export "
            f"({run.peak_mb:.0f} MB peak, {baseline.peak_mb:.0f} MB for a one-record export; "
            f"limit {GROWTH_LIMIT_MB:.0f} MB of growth{starter_text})"
        )
    assert run.summary == expected, (
        f"wrong summary for the {size_mb:.0f} MB export: "
        + describe_difference(run.summary or {}, expected)
    )


def _one_record() -> dict:
    return {
        "id": "txn_tiny",
        "payee": {"account": "acc_0001", "name": "Plain Shop"},
        "amount_cents": 1250,
        "fees": [{"kind": "interchange", "cents": 18}],
        "status": "settled",
    }
