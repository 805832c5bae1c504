"""The candidate API's OpenAPI document (app/openapi.yaml), as the API serves it."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

SOURCE = Path(__file__).with_name("openapi.yaml")


@cache
def document() -> dict[str, Any]:
    return yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
