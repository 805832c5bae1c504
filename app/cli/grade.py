"""`flask grade ID FILE...`: grade files exactly as the worker does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from app.cli.common import challenge_folders, sandbox_option, sandbox_or_exit
from grader.grading import grade
from grader.report import render_text

EXIT_BAD_INPUT = 2


@click.command("grade")
@click.argument("challenge_id")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
@click.option(
    "--mode", type=click.Choice(["hidden", "visible"]), default="hidden", show_default=True
)
@sandbox_option
@with_appcontext
def grade_command(
    challenge_id: str, files: tuple[Path, ...], as_json: bool, mode: str, sandbox_name: str | None
) -> None:
    """Grade FILEs (named as the challenge's editable files) and print the report.

    Exits 0 when a report was produced, whatever the score; 2 on bad input.
    """
    challenge = challenge_folders().get(challenge_id)
    if challenge is None:
        _bad_input(f"unknown challenge {challenge_id!r}")
    submitted: dict[str, bytes] = {}
    for path in files:
        if not path.is_file():
            _bad_input(f"{path}: no such file")
        name = editable_name(path, challenge.spec.editable_paths)
        if name in submitted:
            _bad_input(f"{name} is given twice")
        submitted[name] = path.read_bytes()[: 64 * 1024 * 1024]
    report = grade(challenge, submitted, sandbox_or_exit(sandbox_name), mode=mode)
    if report["status"] == "rejected":
        _bad_input(report["status_detail"])
    click.echo(json.dumps(report, indent=2) if as_json else render_text(report))


def editable_name(path: Path, editable: list[str]) -> str:
    """The challenge file ``path`` stands for: the editable path it ends with (so
    ``work/shop/models.py`` is ``shop/models.py``), else its plain file name."""
    parts = path.resolve().parts
    matches = [
        name
        for name in editable
        if tuple(name.split("/")) == parts[len(parts) - len(name.split("/")) :]
    ]
    return max(matches, key=len) if matches else path.name


def _bad_input(reason: str) -> None:
    click.secho(f"error: {reason}", fg="red", err=True)
    sys.exit(EXIT_BAD_INPUT)
