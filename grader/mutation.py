"""Mutation testing of a challenge: does every small change to the reference fail a check?

Each mutant is the reference solution with one operator of cosmic-ray applied at one place of
one editable file (``a < b`` becomes ``a <= b``, a number goes up by one, a loop runs zero
times, ...). A mutant is graded exactly as a candidate's submission is; it is *killed* when a
check fails (or the grade times out, runs out of memory or errors), and *survives* when it
gets full marks. A survivor is either a gap in the hidden suite or an *equivalent* mutant that
behaves as the reference does; the challenge lists the latter, with a reason, under
``equivalent_mutants`` in challenge.yaml.

A mutant's id is ``<file>:<operator>:<digest>``, the digest taken from the changed line before
and after (and which of several identical changes it is), so an id stays the same when other
lines of the file move.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import random
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.exceptions import CosmicRayTestingException
from cosmic_ray.mutating import mutate_code
from cosmic_ray.operators.provider import OperatorProvider

from grader.grading import grade
from grader.sandbox.base import Sandbox
from grader.spec import Challenge

SAMPLE_SEED = 20261206
"""Sampling with ``limit`` draws the same mutants every time for the same reference."""

_NEVER_RAISED = (
    f"\n\nclass {CosmicRayTestingException.__name__}(Exception):\n"
    '    """Added by Faultline\'s mutation run: the exception a mutated `except` now catches,\n'
    '    which nothing raises."""\n'
)


@dataclass(frozen=True)
class Mutant:
    id: str
    path: str
    line: int
    operator: str
    before: str
    after: str
    files: dict[str, str] = field(repr=False, compare=False)

    @property
    def change(self) -> str:
        """The change in one line: ``before  ->  after``, whitespace collapsed."""
        return f"{' '.join(self.before.split())}  ->  {' '.join(self.after.split())}"


@dataclass
class MutantResult:
    mutant: Mutant
    status: str
    failed_checks: list[str]
    equivalent_reason: str | None = None

    @property
    def killed(self) -> bool:
        return self.status != "graded" or bool(self.failed_checks)

    @property
    def verdict(self) -> str:
        if self.equivalent_reason is not None:
            killed = f" (but killed by {self.killed_by}: not equivalent)" if self.killed else ""
            return f"equivalent{killed}"
        return f"killed by {self.killed_by}" if self.killed else "SURVIVED"

    @property
    def killed_by(self) -> str:
        if self.status != "graded":
            return self.status
        return ", ".join(self.failed_checks)


@dataclass
class MutationRun:
    challenge: Challenge
    generated: int
    results: list[MutantResult]
    stale_equivalents: list[str]
    problems: list[str]

    @property
    def equivalent(self) -> list[MutantResult]:
        return [r for r in self.results if r.equivalent_reason is not None]

    @property
    def scored(self) -> list[MutantResult]:
        return [r for r in self.results if r.equivalent_reason is None]

    @property
    def survivors(self) -> list[MutantResult]:
        return [r for r in self.scored if not r.killed]

    @property
    def score(self) -> float | None:
        """killed / (graded - equivalent), or None when nothing counts."""
        scored = self.scored
        if not scored:
            return None
        return sum(r.killed for r in scored) / len(scored)


def operator_names() -> list[str]:
    """cosmic-ray's core operators that need no arguments, as ``cosmic-ray init`` uses them."""
    provider = OperatorProvider()
    return sorted(name for name in provider if not provider[name].arguments())


def generate_mutants(challenge: Challenge) -> list[Mutant]:
    """Every mutant of the reference's editable files, in a stable order."""
    provider = OperatorProvider()
    reference = {path: challenge.solution[path] for path in challenge.spec.editable_paths}
    mutants: list[Mutant] = []
    for path in sorted(reference):
        if not path.endswith(".py"):
            continue
        original = reference[path]
        original_shape = _behaviour_shape(original)
        nodes = list(ast_nodes(get_ast(original)))
        seen: Counter[tuple[str, str, str]] = Counter()
        for name in operator_names():
            operator = provider[name]()
            positions = sum(1 for node in nodes for _ in operator.mutation_positions(node))
            for occurrence in range(positions):
                mutated = mutate_code(original, operator, occurrence)
                if mutated is None or _behaviour_shape(mutated) in (None, original_shape):
                    continue
                line, before, after = _changed_lines(original, mutated)
                key = (name, before, after)
                seen[key] += 1
                if CosmicRayTestingException.__name__ in mutated:
                    mutated += _NEVER_RAISED
                mutants.append(
                    Mutant(
                        id=_mutant_id(path, name, before, after, seen[key]),
                        path=path,
                        line=line,
                        operator=name,
                        before=before,
                        after=after,
                        files={**reference, path: mutated},
                    )
                )
    return sorted(mutants, key=lambda m: (m.path, m.line, m.operator, m.id))


def stale_equivalents(challenge: Challenge, mutants: list[Mutant] | None = None) -> list[str]:
    """The ``equivalent_mutants`` ids that match no mutant of the current reference."""
    if not challenge.spec.equivalent_mutants:
        return []
    known = {m.id for m in (generate_mutants(challenge) if mutants is None else mutants)}
    return sorted(m.id for m in challenge.spec.equivalent_mutants if m.id not in known)


def stale_equivalent_problem(challenge: Challenge) -> str | None:
    """What is wrong with ``equivalent_mutants`` when an entry matches no current mutant."""
    stale = stale_equivalents(challenge)
    if not stale:
        return None
    return (
        f"equivalent_mutants: {', '.join(stale)} match no mutant of the reference any more "
        "(run `flask challenges mutate` for the current ids)"
    )


def sample(mutants: list[Mutant], limit: int | None) -> list[Mutant]:
    """At most ``limit`` mutants, drawn with a fixed seed so the same ones come every time."""
    if limit is None or limit >= len(mutants):
        return list(mutants)
    chosen = set(random.Random(SAMPLE_SEED).sample(range(len(mutants)), limit))
    return [m for index, m in enumerate(mutants) if index in chosen]


def run_mutants(
    challenge: Challenge,
    sandbox: Sandbox,
    limit: int | None = None,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> MutationRun:
    """Grade the reference (it must get full marks), then each mutant, ``jobs`` at a time."""
    all_mutants = generate_mutants(challenge)
    listed = {m.id: m.reason for m in challenge.spec.equivalent_mutants}
    stale = stale_equivalents(challenge, all_mutants)
    chosen = sample(all_mutants, limit)
    problems: list[str] = []
    baseline = grade(challenge, dict(challenge.solution), sandbox, mode="hidden")
    if baseline["status"] != "graded" or baseline["score"] != baseline["max_score"]:
        problems.append(
            f"the reference itself does not get full marks ({baseline['status']}, "
            f"{baseline['score']}/{baseline['max_score']}): mutants would prove nothing"
        )
        return MutationRun(challenge, len(all_mutants), [], stale, problems)

    results: list[MutantResult] = []
    lock = threading.Lock()

    def one(mutant: Mutant) -> None:
        report = grade(challenge, mutant.files, sandbox, mode="hidden")
        if report["status"] == "infra_error":  # the engine's fault, not the mutant's: retry once
            report = grade(challenge, mutant.files, sandbox, mode="hidden")
        result = MutantResult(
            mutant=mutant,
            status=report["status"],
            failed_checks=[c["id"] for c in report["checks"] if not c["passed"]],
            equivalent_reason=listed.get(mutant.id),
        )
        with lock:
            if report["status"] == "infra_error":
                problems.append(f"{mutant.id}: infra_error: {report['status_detail']}")
            results.append(result)
            if progress:
                progress(f"{challenge.id}: {len(results)}/{len(chosen)} mutants graded")

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        list(pool.map(one, chosen))
    order = {m.id: index for index, m in enumerate(chosen)}
    results.sort(key=lambda r: order[r.mutant.id])
    return MutationRun(challenge, len(all_mutants), results, stale, problems)


def render_table(run: MutationRun) -> str:
    challenge = run.challenge
    lines = [
        f"{challenge.id} {challenge.version_label}: {len(run.results)} of {run.generated} "
        "mutants of the reference graded"
    ]
    rows = [("mutant", "where", "operator", "change", "result")]
    for result in run.results:
        mutant = result.mutant
        rows.append(
            (
                mutant.id.rsplit(":", 1)[1],
                f"{mutant.path}:{mutant.line}",
                mutant.operator,
                _clip(mutant.change, 70),
                result.verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        lines.append("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    for result in run.equivalent:
        lines.append(f"  equivalent {result.mutant.id}: {result.equivalent_reason}")
    for mutant_id in run.stale_equivalents:
        lines.append(f"  STALE equivalent_mutants entry {mutant_id}: no such mutant any more")
    lines.extend(f"  PROBLEM {problem}" for problem in run.problems)
    lines.append(f"  => {summary_line(run)}")
    return "\n".join(lines)


def summary_line(run: MutationRun) -> str:
    if run.score is None:
        return "no mutant counted"
    killed = sum(r.killed for r in run.scored)
    return (
        f"mutation score {run.score:.0%}: {killed} killed of {len(run.scored)} "
        f"({len(run.equivalent)} equivalent left out, {len(run.survivors)} survived)"
    )


def as_json(run: MutationRun) -> dict[str, Any]:
    return {
        "challenge": run.challenge.id,
        "version": run.challenge.version_label,
        "generated": run.generated,
        "graded": len(run.results),
        "equivalent": len(run.equivalent),
        "survived": len(run.survivors),
        "score": run.score,
        "stale_equivalents": run.stale_equivalents,
        "problems": run.problems,
        "mutants": [
            {
                "id": r.mutant.id,
                "path": r.mutant.path,
                "line": r.mutant.line,
                "operator": r.mutant.operator,
                "change": r.mutant.change,
                "status": r.status,
                "failed_checks": r.failed_checks,
                "killed": r.killed,
                "equivalent": r.equivalent_reason,
            }
            for r in run.results
        ],
    }


class _SignatureHintsRemoved(ast.NodeTransformer):
    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.returns = None
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]


def _behaviour_shape(source: str) -> str | None:
    """The module's syntax tree without its function signatures' type hints, or None when it
    does not compile. Two sources with the same shape test the same thing: a mutant that does
    not compile (cosmic-ray turns the bare ``*`` of keyword-only parameters into ``+``) or that
    only changes a signature's hints (postponed, a hint never runs; evaluated, it fails the
    import whatever the checks are) is no mutant. Hints on class attributes stay in the shape:
    SQLAlchemy evaluates ``Mapped[...]``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    return ast.dump(_SignatureHintsRemoved().visit(tree))


def _changed_lines(original: str, mutated: str) -> tuple[int, str, str]:
    """The first line the mutation changes (1-based) and the changed lines before and after."""
    old, new = original.splitlines(), mutated.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if tag != "equal":
            return i1 + 1, "\n".join(old[i1:i2]).strip(), "\n".join(new[j1:j2]).strip()
    return 1, "", ""


def _mutant_id(path: str, operator: str, before: str, after: str, nth: int) -> str:
    digest = hashlib.sha256(f"{path}\0{operator}\0{before}\0{after}\0{nth}".encode()).hexdigest()
    return f"{path}:{operator}:{digest[:8]}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
