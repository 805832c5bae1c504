"""Helpers shared by the commands."""

from __future__ import annotations

import click
from flask import current_app

from app.challenge_folders import ChallengeFolders, read_challenge_folders
from grader.sandbox import Sandbox, SandboxUnavailable, choose_sandbox


def challenge_folders() -> ChallengeFolders:
    return read_challenge_folders(current_app.config["CHALLENGES_DIR"])


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
