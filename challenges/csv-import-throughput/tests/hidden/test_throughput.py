"""Throughput: manifest lines imported per CPU second, against the current job in this run."""

from __future__ import annotations

import gc
import os
import sqlite3
import time
from pathlib import Path
from types import ModuleType

from hidden_support import Bulk, remove_database

SPEEDUP = 10.0  # 4 h 20 min today; the brief asks for under 30 minutes, with room to grow
STARTER_PROBE = 100  # lines of a first starter run, to size the timed ones
STARTER_SECONDS = 0.2  # aim of each timed starter run (CPU seconds)
CANDIDATE_SECONDS = 0.3  # aim of each timed candidate run, within:
MAX_LINES = 21_000
ROUNDS = 3  # candidate runs at most (best one counts); the starter gets two


def _cpu_seconds() -> float:
    """CPU time of this process and of the child processes it has waited for."""
    children = os.times()
    return time.process_time() + children.children_user + children.children_system


def _lines_per_second(module: ModuleType, manifest: Path, lines: int, db_path: Path) -> float:
    """Lines imported per CPU second.

    CPU time, not wall time: the sandbox shares its host, and other containers slow a job made
    of many small system calls (the current one) much more than one that is not, so wall-time
    ratios drift with the host's load while CPU-time ratios do not.
    """
    remove_database(db_path)
    gc.collect()
    started = _cpu_seconds()
    module.import_manifest(manifest, db_path)
    return lines / max(_cpu_seconds() - started, 1e-6)


def _stored_rows(db_path: Path) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute("SELECT count(*) FROM shipments").fetchone()[0]
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _sized(rate: float, seconds: float, low: int) -> int:
    return int(min(max(rate * seconds, low), MAX_LINES))


def test_import_throughput(tmp_path, bulk: Bulk, evidence, starter, quiet):
    import manifest_import

    original = starter.load("manifest_import")
    db_path = tmp_path / "reporting.sqlite"

    # The current job on a slice it imports in about STARTER_SECONDS; best of two runs.
    probe = bulk.write(tmp_path / "probe.csv", STARTER_PROBE)
    probe_rate = _lines_per_second(original, probe, STARTER_PROBE, db_path)
    starter_lines = _sized(probe_rate, STARTER_SECONDS, STARTER_PROBE)
    piece = bulk.write(tmp_path / "slice.csv", starter_lines)
    starter_rate = max(_lines_per_second(original, piece, starter_lines, db_path) for _ in range(2))
    limit = SPEEDUP * starter_rate

    # The candidate: once on the same slice, then up to ROUNDS times on a manifest sized from
    # its best rate so far to take about CANDIDATE_SECONDS (at most MAX_LINES lines). A slow
    # import stays as cheap to time as the starter; a fast one with a fixed start-up cost
    # gets a manifest large enough to amortise it.
    first = _lines_per_second(manifest_import, piece, starter_lines, db_path)
    runs: list[tuple[float, int]] = []  # (lines/s, lines)
    stored = expected = 0
    while len(runs) < ROUNDS:
        lines = _sized(max([first, *(rate for rate, _ in runs)]), CANDIDATE_SECONDS, starter_lines)
        manifest = bulk.write(tmp_path / "manifest.csv", lines)
        runs.append((_lines_per_second(manifest_import, manifest, lines, db_path), lines))
        stored, expected = _stored_rows(db_path), bulk.inserted(lines)
        if stored < 0.9 * expected or runs[-1][0] >= limit:
            break
    remove_database(db_path)
    rate, lines = max(runs)

    evidence.metric(
        "lines_per_second",
        rate,
        unit="lines/cpu-s",
        limit=limit,
        starter=starter_rate,
        better="higher",
        label=f"manifest lines imported per CPU second ({lines:,} lines, best of {len(runs)})",
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
    assert stored >= 0.9 * expected, (
        f"the import left {stored:,} rows for a manifest that gives {expected:,}: "
        "an import that does not import has no speed to measure"
    )
    assert rate >= limit, (
        f"imported {rate:,.0f} lines per CPU second on a {lines:,}-line manifest, "
        f"{rate / starter_rate:.1f}x the current job's {starter_rate:,.0f} measured in this run "
        f"(limit {SPEEDUP:g}x = {limit:,.0f})"
    )
