"""URL converters shared by every blueprint."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

LARGEST_ID = 2**31 - 1
"""The largest value of PostgreSQL's ``integer``, the narrowest id column we run on."""


class IdConverter(IntegerConverter):
    """``<id:name>``: a database id, 1 to :data:`LARGEST_ID`. A larger number matches no route,
    so it answers 404 like any unknown id instead of reaching the database as an overflow."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=LARGEST_ID)


def init_app(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
