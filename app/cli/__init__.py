"""`flask` commands. They grade through the same code path as the worker."""

from __future__ import annotations

from flask import Flask

from app.cli.challenges import challenges_group
from app.cli.grade import grade_command
from app.cli.setup import demo_command, reconcile_command, sync_command
from app.cli.users import users_group


def init_app(app: Flask) -> None:
    app.cli.add_command(challenges_group)
    app.cli.add_command(grade_command)
    for command in (sync_command, demo_command, reconcile_command, users_group):
        app.cli.add_command(command)
