"""Run by test_memory.py in a fresh interpreter: does a larger import need more memory?

Usage: python memory_probe.py MODULE_DIR SOURCE_CSV WORK_DIR SETTINGS_JSON

Short imports (``probe`` = (short, long) lines, timed in CPU seconds) decide the sizes. An
importer faster than ``fast_rate`` lines per CPU second (overall, or per extra line) then
imports ``fast[0]`` lines and ``fast[0] + fast[1]``. A slower one (per-row commits) is measured
from the probes (``long`` lines, which also warm it up) to ``long + slow`` lines, so that it
stays cheap to measure; ``"force_slow": true`` measures that way without timing anything.
Each import goes to a new database. Prints the peak resident memory (VmHWM, kB) after the
smaller and after the larger import, and both sizes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
import time
from pathlib import Path


def high_water_kb() -> int:
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1])


def head(source: Path, count: int, target: Path) -> Path:
    """Copy the header and the first ``count`` lines of ``source``, one line at a time."""
    with source.open(newline="") as lines, target.open("w", newline="") as out:
        for number, line in enumerate(lines):
            if number > count:
                break
            out.write(line)
    return target


def main(argv: list[str]) -> None:
    module_dir, source, work = argv[0], Path(argv[1]), Path(argv[2])
    settings = json.loads(argv[3])

    logging.disable(logging.CRITICAL)
    # Cap SQLite's page cache (a process-wide soft heap limit): what is measured is what the
    # Python code holds on to, not how much of the database SQLite keeps cached.
    sqlite3.connect(":memory:").execute("PRAGMA soft_heap_limit = 131072")
    sys.path.insert(0, module_dir)
    import manifest_import

    runs = 0

    def run(count: int) -> float:
        """Import the first ``count`` lines into a new database; return the CPU seconds."""
        nonlocal runs
        runs += 1
        manifest = head(source, count, work / f"probe-{runs}.csv")
        started = time.process_time()
        manifest_import.import_manifest(manifest, work / f"probe-{runs}.sqlite")
        return max(time.process_time() - started, 1e-6)

    short, long = settings["probe"]
    first = run(short)
    fast = not settings.get("force_slow") and short / first >= settings["fast_rate"]
    tries = 0
    while not fast and tries < (1 if settings.get("force_slow") else 2):
        # Also the cost of one more line, without a fixed start-up cost (an engine, the
        # schema): per-row commits stay slow, batching does not.
        tries += 1
        second = run(long)
        marginal = (long - short) / max(second - first, 1e-6)
        fast = (
            not settings.get("force_slow") and max(long / second, marginal) >= settings["fast_rate"]
        )
    if fast:
        small, extra = settings["fast"]
        run(small)
    else:
        small, extra = long, settings["slow"]
    after_small = high_water_kb()  # a slow importer: after the probe runs
    run(small + extra)
    after_large = high_water_kb()
    print(after_small, after_large, small, small + extra)


if __name__ == "__main__":
    main(sys.argv[1:])
