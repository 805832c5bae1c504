"""Configuration from the environment, with development defaults."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    CHALLENGES_DIR = Path(os.environ.get("FAULTLINE_CHALLENGES_DIR", REPO_ROOT / "challenges"))
    # "docker" in production; "local" runs candidate code unisolated and is for development only.
    SANDBOX = os.environ.get("FAULTLINE_SANDBOX", "docker")
