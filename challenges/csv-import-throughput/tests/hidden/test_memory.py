"""Memory: the import streams the manifest; memory does not grow with the number of lines."""

from __future__ import annotations

import os

from hidden_support import Bulk, memory_growth

PER = 10_000
LIMIT_MB = 2.0  # per PER lines
SETTINGS = {
    # Short imports (lines) timed in CPU seconds decide the sizes below: per-row commits run at
    # 5,000-20,000 lines per CPU second, any batching at 100,000 or more.
    "probe": (200, 600),
    "fast_rate": 40_000,
    # Both sizes above any sensible chunk (10,000 lines or fewer), so holding one chunk at a
    # time shows as flat, and holding the whole file does not.
    "fast": (10_500, 10_500),  # lines of the first import, and how many more the second has
    # A slow import is measured from 600 lines (after the probes) to 1,300, to keep it short.
    "slow": 700,
}


def test_memory_does_not_grow_with_manifest(tmp_path, bulk: Bulk, evidence, starter):
    import manifest_import

    source = bulk.write(tmp_path / "manifest.csv", sum(SETTINGS["fast"]))
    candidate_dir = os.path.dirname(os.path.abspath(manifest_import.__file__))
    starter_dir = os.path.dirname(os.path.abspath(starter.load("manifest_import").__file__))

    run = memory_growth(candidate_dir, source, tmp_path / "candidate", SETTINGS)
    baseline = memory_growth(
        starter_dir, source, tmp_path / "starter", {**SETTINGS, "force_slow": True}
    )

    evidence.metric(
        "peak_memory_per_10k_lines",
        run.per_10k_lines,
        unit="MB",
        limit=LIMIT_MB,
        starter=baseline.per_10k_lines,
        label=(
            f"peak memory added per {PER:,} manifest lines ({run.small_lines:,} -> "
            f"{run.large_lines:,} lines; starter {baseline.small_lines:,} -> "
            f"{baseline.large_lines:,})"
        ),
    )
    assert run.per_10k_lines <= LIMIT_MB, (
        f"peak memory grew by {run.grown_mb:.1f} MB from a {run.small_lines:,}-line to a "
        f"{run.large_lines:,}-line manifest: {run.per_10k_lines:.1f} MB per {PER:,} lines "
        f"(limit {LIMIT_MB:g} MB; current job {baseline.per_10k_lines:.1f} MB). The real "
        "manifest has 10 million lines."
    )
