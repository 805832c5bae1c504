"""`flask users create|list`."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db
from app.models import Role, User
from app.services.users import AccountError, create_user


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
