"""The Faultline web application (Flask). Pages arrive with the candidate issue; for now the
factory hosts the command line (`flask challenges ...`, `flask grade ...`)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import cli, views
from app.config import Config


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if overrides:
        app.config.update(overrides)
    cli.init_app(app)
    views.init_app(app)
    return app
