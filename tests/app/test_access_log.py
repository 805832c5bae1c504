"""The access log of the web server the Procfile starts shows no invite token."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from app import create_app
from app.access_log import redact_tokens
from app.extensions import db
from app.services.demo import ensure_demo
from app.services.library import sync_library

from ..conftest import FIXTURE_CHALLENGES

REPO = Path(__file__).resolve().parents[2]
START_SECONDS = 30.0


def _web_command() -> str:
    line = next(
        line for line in (REPO / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    return line.split(":", 1)[1].strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, referer: str | None = None) -> int:
    request = urllib.request.Request(url, headers={"Referer": referer} if referer else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_redaction_keeps_the_route_and_drops_the_token():
    line = 'GET /api/v1/invites/Ab-9_x/challenges/calc/draft?x=1 HTTP/1.1 "http://h/i/Ab-9_x/c/y"'
    assert redact_tokens(line) == (
        'GET /api/v1/invites/[token]/challenges/calc/draft?x=1 HTTP/1.1 "http://h/i/[token]/c/y"'
    )
    assert redact_tokens("GET /review/invites/12 HTTP/1.1") == "GET /review/invites/12 HTTP/1.1"


def test_the_procfile_web_server_logs_requests_without_invite_tokens(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'web.db'}"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "CHALLENGES_DIR": FIXTURE_CHALLENGES}
    )
    with app.app_context():
        db.create_all()
        sync_library(FIXTURE_CHALLENGES)
        token = ensure_demo().token
        db.session.remove()
        db.engine.dispose()

    port = _free_port()
    environment = {
        **os.environ,
        "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": database_url,
        "FAULTLINE_CHALLENGES_DIR": str(FIXTURE_CHALLENGES),
        "REDIS_URL": "redis://127.0.0.1:6379/15",
    }
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            ["bash", "-c", f"exec {_web_command()}"],
            cwd=REPO,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_SECONDS
        while _get_or_none(f"{base}/login") is None:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert _get(f"{base}/i/{token}") == 200
        assert _get(f"{base}/api/v1/invites/{token}") == 200
        assert _get(f"{base}/static/css/app.css", referer=f"{base}/i/{token}/overview") == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    text = log.read_text()
    logged = [line for line in text.splitlines() if re.search(r'"GET /(i|api)/', line)]
    assert len(logged) == 2, text
    assert token not in text
    assert '"GET /i/[token] HTTP/1.1" 200' in text
    assert "/i/[token]/overview" in text  # the Referer of the stylesheet


def _get_or_none(url: str) -> int | None:
    try:
        return _get(url)
    except OSError:
        return None
