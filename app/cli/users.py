"""`flask users create|list|activate|deactivate|set-password`."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.models import Role, User
from app.services.users import (
    AccountError,
    create_user,
    find_user,
    set_active,
    set_password,
)


@click.group("users", cls=AppGroup)
def users_group() -> None:
    """Manage interviewer and admin accounts."""


@users_group.command("create")
@click.argument("email")
@click.option("--name", default="", help="display name (default: the email)")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.password_option(help="at least 12 characters; prompted for when not given")
def create_command(email: str, name: str, role: str, password: str) -> None:
    """Create an account."""
    try:
        user = create_user(email, name, role, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {user.role} {user.email}")


@users_group.command("list")
def list_command() -> None:
    """List accounts."""
    for user in db.session.scalars(select(User).order_by(User.id)):
        state = "" if user.active else " (inactive)"
        click.echo(f"{user.email:40} {user.role:12} {user.name}{state}")


def _user_or_fail(email: str) -> User:
    try:
        return find_user(email)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


@users_group.command("deactivate")
@click.argument("email")
def deactivate_command(email: str) -> None:
    """Stop an account from logging in; its open sessions end at their next request.
    The last active admin cannot be deactivated."""
    try:
        user = set_active(_user_or_fail(email), False)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"deactivated {user.email}")


@users_group.command("activate")
@click.argument("email")
def activate_command(email: str) -> None:
    """Let a deactivated account log in again."""
    user = set_active(_user_or_fail(email), True)
    click.echo(f"activated {user.email}")


@users_group.command("set-password")
@click.argument("email")
@click.option("--password", help="at least 12 characters; prompted for when not given")
def set_password_command(email: str, password: str | None) -> None:
    """Give an account a new password."""
    user = _user_or_fail(email)
    if password is None:
        password = click.prompt(
            f"New password for {user.email}", hide_input=True, confirmation_prompt=True
        )
    try:
        set_password(user, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"password changed for {user.email}")
