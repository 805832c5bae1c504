"""Helpers shared by the commands."""

from __future__ import annotations

import click
from flask import current_app

from app.challenge_folders import ChallengeFolders, read_challenge_folders
from grader.sandbox import Sandbox, SandboxUnavailable, choose_sandbox


def challenge_folders() -> ChallengeFolders:
    return read_challenge_folders(current_app.config["CHALLENGES_DIR"])


sandbox_option = click.option(
    "--sandbox",
    "sandbox_name",
    type=click.Choice(["docker", "local"]),
    default=None,
    help="default: docker when an engine answers; local runs code WITHOUT isolation",
)


def jobs_option(help_text: str):
    """``--jobs``: how many grades run at the same time."""
    return click.option(
        "--jobs", default=1, show_default=True, type=click.IntRange(1, 8), help=help_text
    )


def sandbox_or_exit(name: str | None) -> Sandbox:
    try:
        configured = current_app.config["SANDBOX"]
        sandbox = choose_sandbox(name or (configured if configured != "docker" else None))
    except SandboxUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    if not sandbox.isolated:
        click.secho(
            "warning: the local sandbox runs code WITHOUT isolation (development only)",
            fg="yellow",
            err=True,
        )
    return sandbox
