"""How faithfully each challenge judges: mutation score, fix verdicts, and their stability.

For every challenge in challenges/ (or those named with --only):

- the mutation score of its reference (``flask challenges mutate``'s run: each mutant graded
  once; ``--max N`` samples N mutants per challenge with the fixed seed of grader/mutation.py),
  with every survivor and every listed equivalent mutant and its reason;
- its sound and wrong fixes, and whether each got its promised verdict in every one of
  ``--runs`` grades (``flask challenges verify``'s run), which is the verdict stability.

Prints a table and, with ``--write``, puts the figures and the survivor lists in docs/fidelity.md.
The measurements are kept per challenge in a JSON file beside it (docs/fidelity.json), so a run
with ``--only`` re-measures those challenges and keeps the others' last figures, each row dated.

    python benchmarks/fidelity.py [--only ID ...] [--max N] [--runs 5] [--jobs 2]
        [--write docs/fidelity.md]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
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
    store = args.write.with_suffix(".json") if args.write else None
    kept = json.loads(store.read_text()) if store and store.exists() else {}
    rows = []
    started = time.perf_counter()
    for folder in folders:
        challenge = load_challenge(folder)
        began = time.perf_counter()
        print(f"… {challenge.id}: mutants", file=sys.stderr, flush=True)
        run = mutation.run_mutants(challenge, sandbox, limit=args.max, jobs=args.jobs)
        details = _details(run)
        print(details, file=sys.stderr, flush=True)
        print(f"… {challenge.id}: fixes, {args.runs} runs", file=sys.stderr, flush=True)
        verification = verify_challenge(challenge, sandbox, runs=args.runs, jobs=args.jobs)
        seconds = time.perf_counter() - began
        rows.append(_row(challenge.id, run, details, verification, args, seconds))
        print(_format_table([rows[-1]]), flush=True)
        if store:
            kept[challenge.id] = rows[-1]
            store.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
    minutes = (time.perf_counter() - started) / 60
    print(_format_table(rows))
    print(f"({minutes:.0f} min)")
    if args.write:
        every = [kept[key] for key in sorted(kept)]
        args.write.write_text(_markdown(every))
        print(f"wrote {args.write} and {store}")
    below = [row["id"] for row in rows if row["score"] is None or row["score"] < TARGET_SCORE]
    unstable = [row["id"] for row in rows if not row["stable"]]
    return 1 if below or unstable else 0


def _row(
    challenge_id: str, run: mutation.MutationRun, details: str, verification, args, seconds: float
) -> dict:
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
        "details": details,
        "measured": f"{datetime.now(UTC):%Y-%m-%d}",
        "commit": _commit(),
        "host": platform.node(),
        "sampled": args.max,
        "jobs": args.jobs,
        "minutes": round(seconds / 60, 1),
    }


def _commit() -> str:
    """The commit measured, marked ``+changes`` when the work tree differs from it."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "challenges", "grader"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head}+changes" if dirty else head or "unknown"


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


def _markdown(rows: list[dict]) -> str:
    out = [
        "# Fidelity of the challenges' verdicts",
        "",
        "Written by `benchmarks/fidelity.py`. For each challenge: mutants of the reference, each "
        "graded once (sampled with a fixed seed where the row says so); every fix graded as many "
        "times as the row says, two grades at a time. Target: a mutation score of at least "
        f"{TARGET_SCORE:.0%} with every survivor listed as equivalent with its reason, every "
        "sound fix full marks and every wrong fix failing exactly what it lists, in every run.",
        "",
        "| challenge | mutants graded | equivalent | survived | mutation score | sound fixes "
        "| wrong fixes | stable over runs | measured |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        sampled = " (a fixed-seed sample)" if row["graded"] < row["generated"] else " (all)"
        out.append(
            f"| {row['id']} | {row['graded']} of {row['generated']}{sampled} "
            f"| {row['equivalent']} | {row['survived']} | {_score(row)} | {row['sound']} "
            f"| {row['wrong']} | {'yes' if row['stable'] else 'NO'} ({row['runs']} runs) "
            f"| {row['measured']}, {row['commit']}, {row['minutes']} min |"
        )
    problems = [f"- {row['id']}: {p}" for row in rows for p in row["problems"]]
    if problems:
        out += ["", "Problems:", "", *problems]
    out += ["", "## Survivors and equivalent mutants", "", *(row["details"] for row in rows)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
