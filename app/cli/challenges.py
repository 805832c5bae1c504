"""`flask challenges list|validate|show|verify|mutate`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.cli.common import challenge_folders, jobs_option, sandbox_option, sandbox_or_exit
from grader import mutation
from grader.spec import (
    ChallengeError,
    discover_challenges,
    load_challenge,
    load_challenge_text,
)
from grader.verify import render_table, verify_challenge


@click.group("challenges", cls=AppGroup)
def challenges_group() -> None:
    """Inspect, validate and verify the challenge folders under challenges/."""


@challenges_group.command("list")
def list_command() -> None:
    """List the challenge folders."""
    found = challenge_folders()
    rows = [
        (
            c.id,
            f"v{c.spec.version}",
            c.spec.difficulty,
            ",".join(sorted({check.category for check in c.spec.checks})),
            c.spec.title,
        )
        for c in found.challenges
    ]
    for row in rows:
        click.echo(f"{row[0]:34} {row[1]:4} {row[2]:7} {row[3]:28} {row[4]}")
    for error in found.errors:
        click.secho(f"invalid: {error}", fg="red", err=True)
    if not rows and not found.errors:
        click.echo("no challenges found")
    if found.errors:
        sys.exit(1)


@challenges_group.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate_command(paths: tuple[Path, ...]) -> None:
    """Validate challenge folders or single YAML files (default: every challenge folder)."""
    targets = list(paths) or discover_challenges(current_app.config["CHALLENGES_DIR"])
    failures = 0
    for target in targets:
        try:
            if target.is_dir():
                challenge = load_challenge(target)
            elif target.is_file():
                challenge = load_challenge_text(
                    target.read_text(encoding="utf-8", errors="replace"),
                    str(target),
                    folder=target.parent if target.name == "challenge.yaml" else None,
                )
            else:
                raise ChallengeError(str(target), [("", "no such file or folder")])
        except ChallengeError as exc:
            failures += 1
            click.secho(str(exc), fg="red", err=True)
            continue
        stale = mutation.stale_equivalent_problem(challenge)
        if stale:
            failures += 1
            click.secho(f"{target}: {stale}", fg="red", err=True)
            continue
        click.echo(f"ok  {challenge.id} {challenge.version_label}  ({target})")
    if failures:
        raise click.ClickException(f"{failures} of {len(targets)} invalid")


@challenges_group.command("show")
@click.argument("challenge_id")
@click.option("--json", "as_json", is_flag=True, help="print JSON")
def show_command(challenge_id: str, as_json: bool) -> None:
    """Show a challenge's metadata and checks (never its hidden test source)."""
    challenge = _get(challenge_id)
    spec = challenge.spec
    data = {
        "id": spec.id,
        "version": spec.version,
        "content_hash": challenge.content_hash,
        "title": spec.title,
        "summary": spec.summary,
        "difficulty": spec.difficulty,
        "tags": spec.tags,
        "time_limit_minutes": spec.time_limit_minutes,
        "files": [e.model_dump() for e in spec.files],
        "limits": spec.limits.model_dump(),
        "checks": [{k: v for k, v in c.model_dump().items() if k != "test"} for c in spec.checks],
        "fixes": {
            "sound": [f.name for f in spec.fixes.sound],
            "wrong": [f.name for f in spec.fixes.wrong],
        },
        "promises": [p.model_dump(exclude_none=True) for p in spec.promises],
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{spec.id} {challenge.version_label}: {spec.title}")
    click.echo(f"  {spec.summary}")
    click.echo(
        f"  difficulty {spec.difficulty}, {spec.time_limit_minutes} min, tags: "
        f"{', '.join(spec.tags) or '-'}"
    )
    for entry in spec.files:
        click.echo(f"  file {entry.path} ({'editable' if entry.editable else 'read-only'})")
    for check in spec.checks:
        click.echo(
            f"  check {check.id} [{check.category}, {check.role}] weight {check.weight}: "
            f"{check.title}"
        )
    for promise in spec.promises:
        scale = f" (at {promise.scale})" if promise.scale else ""
        click.echo(f"  promise {promise.promise}{scale}: {', '.join(promise.checks)}")


@challenges_group.command("verify")
@click.argument("challenge_ids", nargs=-1)
@click.option(
    "--runs",
    default=3,
    show_default=True,
    type=click.IntRange(1, 20),
    help="how many times each subject is graded; every run must agree",
)
@jobs_option("grades run at the same time (the verdicts must hold under that contention)")
@sandbox_option
def verify_command(
    challenge_ids: tuple[str, ...], runs: int, jobs: int, sandbox_name: str | None
) -> None:
    """Grade each challenge's starter, reference and fixes; exit 1 on any wrong verdict."""
    challenges = (
        [_get(i) for i in challenge_ids] if challenge_ids else challenge_folders().challenges
    )
    if not challenges:
        raise click.ClickException("no challenges to verify")
    sandbox = sandbox_or_exit(sandbox_name)
    failed = []
    for challenge in challenges:
        result = verify_challenge(
            challenge,
            sandbox,
            runs=runs,
            progress=lambda text: click.echo(f"  … {text}", err=True),
            jobs=jobs,
        )
        click.echo(render_table(result))
        if not result.ok:
            failed.append(challenge.id)
    if failed:
        raise click.ClickException(f"verification failed: {', '.join(failed)}")
    click.echo(f"all {len(challenges)} challenge(s) verified, {runs} run(s) each")


@challenges_group.command("mutate")
@click.argument("challenge_id")
@click.option(
    "--max",
    "limit",
    type=click.IntRange(1, None),
    default=None,
    help="grade at most this many mutants, drawn with a fixed seed (default: all)",
)
@jobs_option("grades run at the same time")
@sandbox_option
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def mutate_command(
    challenge_id: str, limit: int | None, jobs: int, sandbox_name: str | None, as_json: bool
) -> None:
    """Grade mutants of the reference solution: each must fail a check, or be listed under
    equivalent_mutants with its reason. Prints the mutation score."""
    challenge = _get(challenge_id)
    sandbox = sandbox_or_exit(sandbox_name)
    run = mutation.run_mutants(
        challenge,
        sandbox,
        limit=limit,
        jobs=jobs,
        progress=lambda text: click.echo(f"  … {text}", err=True),
    )
    if as_json:
        click.echo(json.dumps(mutation.as_json(run), indent=2))
    else:
        click.echo(mutation.render_table(run))
    if run.problems:
        raise click.ClickException("; ".join(run.problems))


def _get(challenge_id: str):
    found = challenge_folders()
    challenge = found.get(challenge_id)
    if challenge is None:
        broken = [e for e in found.errors if f"/{challenge_id}/" in e.source]
        if broken:
            raise click.ClickException(str(broken[0]))
        known = ", ".join(c.id for c in found.challenges) or "none"
        raise click.ClickException(f"unknown challenge {challenge_id!r}; known: {known}")
    return challenge
