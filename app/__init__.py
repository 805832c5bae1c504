"""The Faultline web application (Flask)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import auth, cli, errors, formatting, headers, routing
from app.blueprints import admin, api, candidate, home, review
from app.blueprints import auth as auth_pages
from app.config import REPO_ROOT, Config, check_production
from app.extensions import csrf, db, migrate


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(REPO_ROOT / "instance"))
    app.config.from_object(Config)
    if overrides:
        app.config.update(overrides)
    check_production(app.config)
    if app.config["PROXY_HOPS"]:
        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    os.makedirs(app.instance_path, exist_ok=True)
    routing.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(REPO_ROOT / "migrations"))
    csrf.init_app(app)
    auth.init_app(app)
    cli.init_app(app)
    for blueprint in (home.bp, auth_pages.bp, api.bp, candidate.bp, review.bp, admin.bp):
        app.register_blueprint(blueprint)
    formatting.init_app(app)
    headers.init_app(app)
    errors.init_app(app)
    return app
