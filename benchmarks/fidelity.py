"""How faithfully each challenge judges: mutation score, fix verdicts, and their stability.

For every challenge in challenges/ (or those named with --only):

- the mutation score of its reference (``flask challenges mutate``'s run: each mutant graded
  once; ``--max N`` samples N mutants per challenge with the fixed seed of grader/mutation.py),
  with every survivor and every listed equivalent mutant and its reason;
- its sound and wrong fixes, and whether each got its promised verdict in every one of
  ``--runs`` grades (``flask challenges verify``'s run), which is the verdict stability.

Prints a table and, with ``--write``, puts the figures and the survivor lists in docs/fidelity.md.

    python benchmarks/fidelity.py [--only ID ...] [--max N] [--runs 5] [--jobs 2]
        [--write docs/fidelity.md]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sandboxes import docker_sandbox  # noqa: E402

from grader import mutation  # noqa: E402
from grader.spec import discover_challenges, load_challenge  # noqa: E402
from grader.verify import verify_challenge  # noqa: E402

TARGET_SCORE = 0.90


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", help="challenge ids (default: every challenge)")
    parser.add_argument("--max", type=int, default=None, help="mutants per challenge (sampled)")
    parser.add_argument("--runs", type=int, default=5, help="grades per fix for stability")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--write", type=Path, help="write the report to this Markdown file")
    args = parser.parse_args()

    sandbox = docker_sandbox()
    if sandbox is None:
        return 1
    folders = discover_challenges(REPO / "challenges")
    if args.only:
        folders = [f for f in folders if f.name in set(args.only)]
    rows, details = [], []
    started = time.perf_counter()
    for folder in folders:
        challenge = load_challenge(folder)
        print(f"… {challenge.id}: mutants", file=sys.stderr, flush=True)
        run = mutation.run_mutants(challenge, sandbox, limit=args.max, jobs=args.jobs)
        print(f"… {challenge.id}: fixes, {args.runs} runs", file=sys.stderr, flush=True)
        verification = verify_challenge(challenge, sandbox, runs=args.runs, jobs=args.jobs)
        rows.append(_row(challenge.id, run, verification))
        details.append(_details(run))
        print(_format_table([rows[-1]]), flush=True)
    minutes = (time.perf_counter() - started) / 60
    table = _format_table(rows)
    print(table)
    print(f"({minutes:.0f} min)")
    if args.write:
        args.write.write_text(_markdown(rows, details, args, minutes))
        print(f"wrote {args.write}")
    below = [row["id"] for row in rows if row["score"] is None or row["score"] < TARGET_SCORE]
    unstable = [row["id"] for row in rows if not row["stable"]]
    return 1 if below or unstable else 0


def _row(challenge_id: str, run: mutation.MutationRun, verification) -> dict:
    by_subject: dict[str, bool] = {}
    for tally in verification.tallies:
        by_subject[tally.subject] = by_subject.get(tally.subject, True) and tally.ok
    sound = [s for s in by_subject if s.startswith("sound:") or s == "reference"]
    wrong = [s for s in by_subject if s.startswith("wrong:")]
    return {
        "id": challenge_id,
        "generated": run.generated,
        "graded": len(run.results),
        "equivalent": len(run.equivalent),
        "survived": len(run.survivors),
        "score": run.score,
        "sound": f"{sum(by_subject[s] for s in sound)}/{len(sound)} full marks",
        "wrong": f"{sum(by_subject[s] for s in wrong)}/{len(wrong)} fail as listed",
        "stable": verification.ok,
        "runs": verification.runs,
        "problems": [*run.problems, *verification.problems],
    }


def _details(run: mutation.MutationRun) -> str:
    lines = [f"### {run.challenge.id}", ""]
    if not run.survivors and not run.equivalent:
        lines.append("No survivors, no equivalent mutants.")
    for result in run.survivors:
        m = result.mutant
        lines.append(f"- SURVIVED `{m.id}` ({m.path}:{m.line}): `{m.change}`")
    for result in run.equivalent:
        m = result.mutant
        note = f" **but killed by {result.killed_by}**" if result.killed else ""
        lines.append(f"- equivalent `{m.id}`: `{m.change}`: {result.equivalent_reason}{note}")
    for mutant_id in run.stale_equivalents:
        lines.append(f"- stale equivalent_mutants entry `{mutant_id}`")
    return "\n".join(lines) + "\n"


def _score(row: dict) -> str:
    return "n/a" if row["score"] is None else f"{row['score']:.0%}"


def _format_table(rows: list[dict]) -> str:
    header = ("challenge", "mutants", "equiv.", "survived", "score", "sound", "wrong", "stable")
    lines = [header]
    for row in rows:
        lines.append(
            (
                row["id"],
                f"{row['graded']}/{row['generated']}",
                str(row["equivalent"]),
                str(row["survived"]),
                _score(row),
                row["sound"],
                row["wrong"],
                f"{'yes' if row['stable'] else 'NO'} ({row['runs']} runs)",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in lines
    )


def _markdown(rows: list[dict], details: list[str], args, minutes: float) -> str:
    sample = f"{args.max} mutants sampled per challenge" if args.max else "every mutant"
    out = [
        "# Fidelity of the challenges' verdicts",
        "",
        f"Written by `benchmarks/fidelity.py` on {datetime.now(UTC):%Y-%m-%d} "
        f"({platform.node()}, {minutes:.0f} min): {sample}, each graded once; every fix graded "
        f"{args.runs} times, {args.jobs} grades at a time. Target: a mutation score of at least "
        f"{TARGET_SCORE:.0%} with every survivor listed as equivalent with its reason, every "
        "sound fix full marks and every wrong fix failing exactly what it lists, in every run.",
        "",
        "| challenge | mutants graded | equivalent | survived | mutation score | sound fixes "
        "| wrong fixes | stable over runs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        out.append(
            f"| {row['id']} | {row['graded']} of {row['generated']} | {row['equivalent']} "
            f"| {row['survived']} | {_score(row)} | {row['sound']} | {row['wrong']} "
            f"| {'yes' if row['stable'] else 'NO'} ({row['runs']} runs) |"
        )
    problems = [f"- {row['id']}: {p}" for row in rows for p in row["problems"]]
    if problems:
        out += ["", "Problems:", "", *problems]
    out += ["", "## Survivors and equivalent mutants", "", *details]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
