"""What every browser test runs against: a real server (CSRF on), a real RQ worker process on
its own queue, the Docker sandbox, one SQLite file, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from app.extensions import db
from app.services.demo import ensure_demo
from app.services.library import sync_library

from ..conftest import FIXTURE_CHALLENGES, spawn_worker, stop_worker

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REDIS_URL = "redis://127.0.0.1:6379/15"


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # the browser's requests are not news
        pass


@dataclass
class Stack:
    base: str
    app: Flask
    token: str  # the demo invite's
    worker_log: Path


def worker_queues(queue: str) -> list[str]:
    """One worker for the tests serves both of the Procfile's queues: grading first."""
    return [queue, f"{queue}-background"]


@pytest.fixture
def stack(tmp_path, docker_sandbox) -> Iterator[Stack]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    queue = f"e2e-grading-{uuid.uuid4().hex[:8]}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": REDIS_URL,
            "RATELIMIT_STORAGE_URI": REDIS_URL,
            "RATELIMIT_KEY_PREFIX": queue,
            "GRADING_QUEUE": queue,
            "CHALLENGES_DIR": FIXTURE_CHALLENGES,
        }
    )
    assert app.config.get("WTF_CSRF_ENABLED", True), "the browser must pass real CSRF checks"
    with app.app_context():
        db.create_all()
        sync_library(FIXTURE_CHALLENGES)
        token = ensure_demo().token
        db.session.remove()

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    log_path = tmp_path / "worker.log"
    log = log_path.open("wb")
    worker = spawn_worker(
        database_url=database_url,
        redis_url=REDIS_URL,
        queues=worker_queues(queue),
        challenges_dir=FIXTURE_CHALLENGES,
        output=log,
        scheduler=True,
        # The reconciler closes timed-out attempts: often enough that a test need not wait.
        extra_env={"FAULTLINE_RECONCILE_EVERY_SECONDS": "3"},
    )
    try:
        yield Stack(
            base=f"http://127.0.0.1:{server.server_port}",
            app=app,
            token=token,
            worker_log=log_path,
        )
    finally:
        stop_worker(worker)
        log.close()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            from rq import Queue

            from app.queue import FRONT_QUEUE_SUFFIX, redis_connection

            for name in [queue + FRONT_QUEUE_SUFFIX, *worker_queues(queue)]:
                Queue(name, connection=redis_connection()).delete(delete_jobs=True)
            db.engine.dispose()


@pytest.fixture
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def watch_for_errors(page, problems: list[str]) -> None:
    """Collect the page's script errors and console errors into ``problems``."""
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )


EDITOR_CONTENT = ".editor-pane:not([hidden]) .cm-content"


def open_demo_challenge(page, stack: Stack, *, start: bool = True):
    """The demo challenge (trivial-sum) open in ``page``, its invite started first from the
    landing page's Start button unless ``start`` is false; returns the editor."""
    from playwright.sync_api import expect

    if start:
        page.goto(f"{stack.base}/i/{stack.token}")
        page.click("#start-button")
        page.wait_for_url(f"{stack.base}/i/{stack.token}/overview")
    page.goto(f"{stack.base}/i/{stack.token}/c/trivial-sum")
    editor = page.locator(EDITOR_CONTENT)
    expect(editor).to_contain_text("def total")
    return editor


def replace_code(page, editor, lines: list[str]) -> None:
    """Type ``lines`` over everything in ``editor`` as a person would: each line's indentation
    is the editor's (Enter indents a body), and Escape closes any completion it offers."""
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    for number, line in enumerate(lines):
        if number:
            page.keyboard.press("Enter")
        page.keyboard.type(line)
        page.keyboard.press("Escape")
