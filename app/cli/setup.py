"""`flask sync`, `flask demo`, `flask reconcile`: what `make run` and the Procfile's release
step do."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from app.reconcile import reconcile
from app.services.demo import ensure_demo, ensure_demo_accounts
from app.services.library import sync_library
from app.services.verification import request_missing_verifications


@click.command("sync")
@with_appcontext
def sync_command() -> None:
    """Store every challenge folder's current version in the database, and queue a sandbox
    verification for each version never verified (it measures the reference's figures)."""
    result = sync_library(current_app.config["CHALLENGES_DIR"])
    for label in result.added:
        click.echo(f"added {label}")
    click.echo(f"{len(result.added)} added, {len(result.unchanged)} unchanged")
    for error in result.errors:
        click.secho(f"invalid, not synced: {error}", fg="red", err=True)
    queued, problem = request_missing_verifications()
    if queued:
        click.echo(f"verification queued for {queued} version(s); a worker runs it")
    if problem:
        click.secho(f"warning: {problem} (run `flask sync` again later)", fg="yellow", err=True)


@click.command("demo")
@click.option("--base-url", default="http://127.0.0.1:5000", show_default=True)
@with_appcontext
def demo_command(base_url: str) -> None:
    """Create the demo accounts and assessment; print the candidate invite link."""
    for email, role, password in ensure_demo_accounts():
        click.echo(f"Demo {role}: {email} / password {password} (shown once; change it)")
    invite = ensure_demo()
    if invite is None:
        raise click.ClickException("no challenges in the database: run `flask sync` first")
    click.secho(f"Demo candidate invite: {base_url}/i/{invite.token}", fg="green", bold=True)


@click.command("reconcile")
@with_appcontext
def reconcile_command() -> None:
    """Re-enqueue or fail submissions left queued or running by a dead worker."""
    result = reconcile()
    if result.redis_down:
        raise click.ClickException("Redis does not answer; nothing was reconciled")
    click.echo(f"requeued {result.requeued}, failed {result.failed}")
