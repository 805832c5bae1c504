"""Throughput: manifest lines imported per CPU second, against the current job in this run.

Both imports run in hosts of their own (the starter's and the candidate's), measured the same
way from outside: CPU seconds of every process of the host's uid, read by the harness from
/proc during the call, and the wall time across the call, taken here. CPU time decides: the
sandbox shares its machine, and other jobs slow one made of many small system calls (the current
one) much more than one that is not, so wall-time ratios drift with the machine's load while
CPU-time ratios do not. Right after each call the judge counts the rows in its own copy of the
database: an import only counts once it is complete.
"""

from __future__ import annotations

from hidden_support import Bulk
from import_host import Importer, Timed, import_bulk

SPEEDUP = 10.0  # 4 h 20 min today; the brief asks for under 30 minutes, with room to grow
STARTER_PROBE = 100  # lines of a first starter run, to size the timed ones
STARTER_SECONDS = 0.2  # aim of each timed starter run (CPU seconds)
CANDIDATE_SECONDS = 0.3  # aim of each timed candidate run, within:
MAX_LINES = 21_000
ROUNDS = 3  # candidate runs at most (best one counts); the starter gets two
COMPLETE = 0.9  # share of the expected rows that must be stored when the call returns
# The current job commits every line (and opens the database for it): it runs at a few thousand
# lines per CPU second. Far above that, this run did not show the bug it is measured against.
STARTER_MAX_RATE = 40_000.0
STARTER_MIN_CPU = 0.05  # seconds: the harness read next to no CPU time for the starter's run


def _sized(rate: float, seconds: float, low: int) -> int:
    return int(min(max(rate * seconds, low), MAX_LINES))


def test_import_throughput(shared, bulk: Bulk, evidence, starter, candidate):
    original = Importer(starter)
    importer = Importer(candidate)

    # The current job on a slice it imports in about STARTER_SECONDS; best of two runs.
    probe, _ = import_bulk(original, shared, bulk, STARTER_PROBE)
    starter_lines = _sized(probe.cpu_rate, STARTER_SECONDS, STARTER_PROBE)
    baseline = [import_bulk(original, shared, bulk, starter_lines) for _ in range(2)]
    best_starter = max((timed for timed, _ in baseline), key=lambda timed: timed.cpu_rate)
    starter_rate = best_starter.cpu_rate
    starter_wall_rate = max(timed.wall_rate for timed, _ in baseline)
    starter_stored = min(stored for _, stored in baseline)
    limit = SPEEDUP * starter_rate
    starter.close()  # idle from here on; its memory is released before the candidate's turn

    # The candidate: once on the same slice, then up to ROUNDS times on a manifest sized from
    # its best rate so far to take about CANDIDATE_SECONDS (at most MAX_LINES lines). A slow
    # import stays as cheap to time as the starter; a fast one with a fixed start-up cost
    # gets a manifest large enough to amortise it.
    first, _ = import_bulk(importer, shared, bulk, starter_lines)
    runs: list[Timed] = []
    stored = expected = 0
    while len(runs) < ROUNDS:
        best_so_far = max([first.cpu_rate, *(run.cpu_rate for run in runs)])
        lines = _sized(best_so_far, CANDIDATE_SECONDS, starter_lines)
        run, stored = import_bulk(importer, shared, bulk, lines)
        runs.append(run)
        expected = bulk.inserted(lines)
        if stored < COMPLETE * expected or run.cpu_rate >= limit:
            break
    best = max(runs, key=lambda run: run.cpu_rate)
    rate = best.cpu_rate
    wall_rate = max(run.wall_rate for run in runs)

    evidence.metric(
        "lines_per_second",
        rate,
        unit="lines/cpu-s",
        limit=limit,
        starter=starter_rate,
        better="higher",
        label=(
            f"manifest lines imported per CPU second of the host's processes "
            f"({best.lines:,} lines, best of {len(runs)})"
        ),
    )
    evidence.metric(
        "speedup",
        rate / starter_rate,
        unit="x",
        limit=SPEEDUP,
        starter=1.0,
        better="higher",
        label=f"speed-up over the current job ({starter_lines:,} lines, measured in this run)",
    )
    evidence.metric(
        "wall_lines_per_second",
        wall_rate,
        unit="lines/s",
        starter=starter_wall_rate,
        better="higher",
        label="manifest lines imported per second of wall time (shared machine: not decisive)",
    )
    starter_expected = bulk.inserted(starter_lines)
    if starter_stored < COMPLETE * starter_expected:
        evidence.suspect(
            f"import-throughput: the current job stored {starter_stored:,} of "
            f"{starter_expected:,} rows in this run; the baseline is not trusted"
        )
    elif best_starter.cpu < STARTER_MIN_CPU or starter_rate > STARTER_MAX_RATE:
        evidence.suspect(
            f"import-throughput: the current job imported {starter_rate:,.0f} lines per CPU "
            f"second in this run ({best_starter.cpu:.2f} CPU s for {starter_lines:,} lines; it "
            f"runs at a few thousand); the measurement is not trusted"
        )
    assert stored >= COMPLETE * expected, (
        f"when the import returned, the database held {stored:,} rows for a manifest that gives "
        f"{expected:,}: an import that does not import has no speed to measure"
    )
    assert rate >= limit, (
        f"imported {rate:,.0f} lines per CPU second on a {best.lines:,}-line manifest, "
        f"{rate / starter_rate:.1f}x the current job's {starter_rate:,.0f} measured in this run "
        f"(limit {SPEEDUP:g}x = {limit:,.0f})"
    )
