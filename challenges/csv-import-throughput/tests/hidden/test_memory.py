"""Memory: the import streams the manifest; memory does not grow with the number of lines.

Memory is the harness's figure: the peak of every process of the candidate host's uid, sampled
from /proc during each call (a child process, an mmap or a buffer in C all count). The same host
imports a smaller and a larger manifest, each into a new database; the peak of the larger import
above the peak of the smaller one is what the extra lines cost.

Both sizes are far above the scale of a chunk (a legitimate choice up to about 10,000 lines, and
an importer may hold the chunk it is building next to the one it is sending), so an importer
that holds a bounded chunk has reached its highest memory in both, and shows as flat, while one
that holds every line shows the lines added between them.
"""

from __future__ import annotations

from itertools import pairwise

from hidden_support import Bulk
from import_host import MB, Importer, Timed, import_bulk

PER = 10_000
# Per PER lines added between the two sizes, 2.4 MB over them: at tonight's 9 million lines
# that is 270 MB, more than half the 512 MB host. Holding every parsed line costs about 3.5 MB
# per PER lines; a set of every id seen (an int and its slot) 0.5 to 0.8 MB, in steps as the set
# resizes.
LIMIT_MB = 0.3
WARMUP = 200  # lines imported first, untimed: lazy imports, an engine, the schema
PROBE = 600  # lines of a timed import that decides the sizes below
# Faster than this (lines per CPU second of the host), the sizes are FAST; per-row commits run
# at a few thousand lines per CPU second, any batching at 50,000 or more.
FAST_RATE = 20_000
# Four and twelve times the largest sensible chunk (10,000 lines): an importer holding a chunk or
# two (the one it sends, the one it builds) has reached its highest memory well before the
# smaller size; one holding anything per line has 80,000 lines' worth more at the larger. The
# manifest and the database of the larger size fill about half of the sandbox's 64 MB /tmp.
FAST = (40_000, 120_000)
# A slow import is measured over two steps of this many lines each (probe -> +1 step -> +2 steps),
# about a second each of a per-row-commit import. The lower of the two steps' growth counts: an
# importer that keeps something per line grows in both, while a one-off step (0.2 MB over a single
# 4,000-line step in one CI run of a fix that keeps nothing) lands in only one of them.
SLOW_STEP = 4_000
COMPLETE = 0.9  # share of the expected rows the larger import must have stored
TONIGHT = "9 million"  # lines of tonight's manifest (the brief)


def growth_per_line(small: Timed, large: Timed) -> float:
    """Bytes of peak memory that each line added from ``small`` to ``large`` cost."""
    return (large.peak - small.peak) / (large.lines - small.lines)


def test_memory_does_not_grow_with_manifest(shared, bulk: Bulk, evidence, candidate):
    importer = Importer(candidate)
    importer.cap_sqlite_cache()

    import_bulk(importer, shared, bulk, WARMUP)
    probe, _ = import_bulk(importer, shared, bulk, PROBE)
    if probe.cpu_rate >= FAST_RATE:
        sizes = list(FAST)
        measured = []
    else:  # per-row commits hold nothing but are slow: measured on short manifests, to stay cheap
        sizes = [PROBE + SLOW_STEP, PROBE + 2 * SLOW_STEP]
        measured = [probe]
    for lines in sizes:
        timed, stored = import_bulk(importer, shared, bulk, lines)
        measured.append(timed)
    largest = measured[-1]
    expected = bulk.inserted(largest.lines)
    small, large = min(pairwise(measured), key=lambda step: growth_per_line(*step))
    grown_mb = (large.peak - small.peak) / MB
    per_10k_lines = growth_per_line(small, large) * PER / MB

    evidence.metric(
        "peak_memory_per_10k_lines",
        per_10k_lines,
        unit="MB",
        limit=LIMIT_MB,
        label=(
            f"peak memory of the host's processes added per {PER:,} manifest lines "
            f"({small.lines:,} -> {large.lines:,} lines)"
        ),
    )
    assert stored >= COMPLETE * expected, (
        f"when the {largest.lines:,}-line import returned, the database held {stored:,} rows of "
        f"{expected:,}: memory is measured on an import that imports"
    )
    assert per_10k_lines <= LIMIT_MB, (
        f"peak memory grew by {grown_mb:.1f} MB from a {small.lines:,}-line to a "
        f"{large.lines:,}-line manifest ({small.peak / MB:.1f} MB -> {large.peak / MB:.1f} MB): "
        f"{per_10k_lines:.1f} MB per {PER:,} lines (limit {LIMIT_MB:g} MB). Tonight's manifest "
        f"has about {TONIGHT} lines, on a 512 MB host."
    )
