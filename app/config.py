"""Configuration from the environment, with development defaults."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
INSTANCE = REPO_ROOT / "instance"


class Config:
    ENV_NAME = os.environ.get("FAULTLINE_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE / 'faultline.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    GRADING_QUEUE = os.environ.get("FAULTLINE_QUEUE", "grading")
    CHALLENGES_DIR = Path(os.environ.get("FAULTLINE_CHALLENGES_DIR", REPO_ROOT / "challenges"))
    # "docker" in production; "local" runs candidate code unisolated and is for development only.
    SANDBOX = os.environ.get("FAULTLINE_SANDBOX", "docker")
    # A started job whose worker has not beaten for this long is taken as abandoned.
    RECONCILE_STALE_SECONDS = float(os.environ.get("FAULTLINE_RECONCILE_STALE_SECONDS", "60"))
    INVITE_VALID_DAYS = int(os.environ.get("FAULTLINE_INVITE_VALID_DAYS", "14"))
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    WTF_CSRF_TIME_LIMIT = None
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SECURE = os.environ.get("FAULTLINE_ENV") == "production"
    # Staff sessions end after this long without a request, and at the latest after
    # STAFF_SESSION_MAX_HOURS from logging in. There is no "remember me" cookie.
    PERMANENT_SESSION_LIFETIME = timedelta(
        minutes=int(os.environ.get("FAULTLINE_SESSION_IDLE_MINUTES", "480"))
    )
    STAFF_SESSION_MAX_HOURS = int(os.environ.get("FAULTLINE_SESSION_MAX_HOURS", "24"))
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", REDIS_URL)
    # Deployments sharing one Redis keep their login counters apart, as their queues.
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", f"faultline-{GRADING_QUEUE}")
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_HEADERS_ENABLED = True
    # Failed logins (and failed password changes) per client address.
    LOGIN_RATE_LIMIT = os.environ.get("FAULTLINE_LOGIN_RATE_LIMIT", "10 per minute;50 per hour")
    # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host. With 0 (the
    # default) those headers are ignored, and every client behind a proxy shares its address.
    PROXY_HOPS = int(os.environ.get("FAULTLINE_PROXY_HOPS", "0"))
    # Fairness between candidates (app/services/candidates.py): one candidate's runs and
    # submissions being graded at once, across all challenges; runs and submits in any minute;
    # runs and submissions kept per challenge.
    MAX_JOBS_IN_FLIGHT = int(os.environ.get("FAULTLINE_MAX_JOBS_IN_FLIGHT", "2"))
    GRADES_PER_MINUTE = int(os.environ.get("FAULTLINE_GRADES_PER_MINUTE", "10"))
    MAX_SUBMISSIONS_PER_CHALLENGE = int(
        os.environ.get("FAULTLINE_MAX_SUBMISSIONS_PER_CHALLENGE", "300")
    )
    # Dotted path of a callable(invite, url) that sends an invitation (e.g. by email);
    # empty: interviewers copy the link themselves. See app/services/invitations.py.
    INVITE_SENDER = os.environ.get("FAULTLINE_INVITE_SENDER", "")


class ConfigurationError(RuntimeError):
    pass


def check_production(config: dict) -> None:
    """Refuse settings that are only safe on a developer's machine."""
    if config.get("ENV_NAME") != "production":
        return
    if config.get("SANDBOX") != "docker":
        raise ConfigurationError(
            "FAULTLINE_SANDBOX=local runs candidate code without isolation; production needs docker"
        )
    if config.get("SECRET_KEY") in (None, "", "dev-only-change-me"):
        raise ConfigurationError("set SECRET_KEY to a long random value in production")
