"""A placeholder home page until the candidate and review pages land."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify

from app.library import load_library

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    library = load_library(current_app.config["CHALLENGES_DIR"])
    return jsonify(
        {
            "service": "faultline",
            "challenges": [
                {"id": c.id, "title": c.spec.title, "version": c.version_label}
                for c in library.challenges
            ],
            "invalid": [str(error) for error in library.errors],
        }
    )


def init_app(app: Flask) -> None:
    from app.blueprints import api

    app.register_blueprint(bp)
    app.register_blueprint(api.bp)
