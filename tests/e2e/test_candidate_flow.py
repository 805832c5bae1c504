"""The candidate's whole flow in a real browser: a real server (CSRF on), a real RQ worker
process, the Docker sandbox, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from app.extensions import db
from app.services.demo import ensure_demo
from app.services.library import sync_library

from ..conftest import FIXTURE_CHALLENGES

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
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
GRADING_SECONDS = 120_000  # ms: a busy machine and a cold sandbox can be slow
REPORT_SHOT = Path("/tmp/faultline-report.png")
EDITOR_SHOT = Path("/tmp/faultline-editor.png")


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # the browser's requests are not news
        pass


@pytest.fixture
def stack(tmp_path, docker_sandbox) -> Iterator[dict]:
    """A server on a free port, a worker subprocess on its own queue, one SQLite file."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
    database_url = f"sqlite:///{tmp_path / 'e2e.db'}"
    queue = f"e2e-grading-{uuid.uuid4().hex[:8]}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": REDIS_URL,
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

    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "rq"),
            "worker",
            "--worker-class",
            "app.worker.GradingWorker",
            "--with-scheduler",
            "--url",
            REDIS_URL,
            queue,
        ],
        cwd=REPO,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "FAULTLINE_QUEUE": queue,
            "FAULTLINE_CHALLENGES_DIR": str(FIXTURE_CHALLENGES),
        },
        start_new_session=True,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield {
            "base": f"http://127.0.0.1:{server.server_port}",
            "token": token,
            "worker_log": tmp_path / "worker.log",
            "app": app,
        }
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        log.close()
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            from rq import Queue

            from app.queue import redis_connection

            Queue(queue, connection=redis_connection()).delete(delete_jobs=True)
            db.engine.dispose()


def test_candidate_fixes_the_bug_in_the_browser(stack):
    from playwright.sync_api import expect, sync_playwright

    base, token = stack["base"], stack["token"]
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on(
                "console",
                lambda msg: (
                    problems.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error"
                    else None
                ),
            )
            try:
                _scenario(page, expect, base, token)
                assert not problems, problems
                _time_runs_out(page, expect, stack["app"], base, token)
                # The browser logs the server's refusals; nothing else may go wrong.
                assert all("status of 403" in p for p in problems), problems
            except Exception:
                page.screenshot(path="/tmp/faultline-e2e-failure.png", full_page=True)
                sys.stderr.write(stack["worker_log"].read_text(errors="replace")[-4000:])
                raise
        finally:
            browser.close()


def _scenario(page, expect, base: str, token: str) -> None:
    # The invite: who, what, and Start.
    page.goto(f"{base}/i/{token}")
    expect(page.locator("h1")).to_have_text("Demo: Python production debugging")
    expect(page.get_by_text("Assessment for Demo Candidate")).to_be_visible()
    page.screenshot(path="/tmp/faultline-landing.png", full_page=True)
    page.click("#start-button")
    page.wait_for_url(f"{base}/i/{token}/overview")
    expect(page.get_by_text("Not started")).to_be_visible()
    expect(page.locator(".timer .countdown")).to_have_text(re.compile(r"^(5:00|4:[0-5]\d)$"))

    # The challenge: brief, the starter in the editor.
    page.get_by_role("link", name="Sum is off by one").click()
    page.wait_for_url(f"{base}/i/{token}/c/trivial-sum")
    expect(page.locator(".brief")).to_contain_text("Make total return the sum")
    editor = page.locator(".editor-pane:not([hidden]) .cm-content")
    expect(editor).to_contain_text("range(len(items) - 1)")
    expect(page.get_by_role("tab", name="calc.py")).to_have_attribute("aria-selected", "true")

    # Submit the starter as is: the hidden checks catch the bug, with evidence.
    page.click("#submit-button")
    grading = page.locator("#grading-state")
    expect(grading).to_contain_text("Submission #1", timeout=10_000)
    expect(grading).to_have_text("Submission #1: Graded", timeout=GRADING_SECONDS)
    output = page.locator("#output")
    expect(output).to_contain_text("Score 1/4")
    page.get_by_role("link", name="Open the full report").click()
    page.wait_for_url(f"{base}/i/{token}/s/1")
    failed = page.locator(".check.failed")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("total() adds every item")
    expect(failed.locator(".evidence")).to_have_text("sum of 0..9: 36 (at least 45; starter 36)")
    expect(failed.locator("svg.chart")).to_have_count(1)
    expect(page.locator(".check.passed")).to_contain_text("total() of nothing is zero")
    expect(page.locator(".score-badge")).to_have_text("1/4")
    page.screenshot(path="/tmp/faultline-report-failing.png", full_page=True)

    # Back to the editor: type the fix (autosaved), run the visible tests with Ctrl+Enter.
    page.get_by_role("link", name="Back to the challenge").click()
    page.wait_for_url(f"{base}/i/{token}/c/trivial-sum")
    expect(page.locator("#history")).to_contain_text("#1")
    editor = page.locator(".editor-pane:not([hidden]) .cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("def total(items):")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")  # the editor indents the body
    page.keyboard.type("return sum(items)")
    page.keyboard.press("Escape")
    expect(editor.locator(".cm-line")).to_have_count(2)
    lines = editor.locator(".cm-line").all_text_contents()
    assert lines == ["def total(items):", "    return sum(items)"], lines
    expect(page.locator("#save-state")).to_contain_text("Saved", timeout=15_000)

    page.keyboard.press("ControlOrMeta+Enter")
    expect(grading).to_have_text("Test run: Graded", timeout=GRADING_SECONDS)
    passed = output.locator(".results li.passed")
    expect(passed).to_have_count(1)
    expect(passed).to_contain_text("test total of two")
    expect(output.locator(".results li.failed")).to_have_count(0)
    expect(output.locator("pre.console")).to_contain_text("1 passed")
    page.screenshot(path="/tmp/faultline-run.png")

    # Submit the fix: full marks.
    page.click("#submit-button")
    expect(grading).to_have_text("Submission #3: Graded", timeout=GRADING_SECONDS)
    expect(output).to_contain_text("Score 4/4")
    page.screenshot(path=str(EDITOR_SHOT))

    page.get_by_role("link", name="Open the full report").click()
    page.wait_for_url(f"{base}/i/{token}/s/3")
    expect(page.locator("h1")).to_have_text("Score 4/4")
    expect(page.locator(".check.passed")).to_have_count(2)
    expect(page.locator(".check.passed .evidence")).to_have_text(
        "sum of 0..9: 45 (at least 45; starter 36)"
    )
    page.screenshot(path=str(REPORT_SHOT), full_page=True)

    # The overview shows the last submission's score; the draft survived a reload.
    page.goto(f"{base}/i/{token}/overview")
    expect(page.locator(".challenges")).to_contain_text("Submitted · 4/4")
    page.screenshot(path="/tmp/faultline-overview.png", full_page=True)
    page.goto(f"{base}/i/{token}/c/trivial-sum")
    expect(page.locator(".editor-pane:not([hidden]) .cm-content")).to_contain_text(
        "return sum(items)"
    )


def _time_runs_out(page, expect, app, base: str, token: str) -> None:
    """The countdown reaches zero on the page: the server refuses, the page says why."""
    from datetime import timedelta

    from app.models import Invite, utcnow

    with app.app_context():
        invite = db.session.scalar(db.select(Invite).where(Invite.token == token))
        limit = timedelta(minutes=invite.assessment.time_limit_minutes)
        invite.started_at = utcnow() - limit + timedelta(seconds=4)
        db.session.commit()
        db.session.remove()
    page.goto(f"{base}/i/{token}/c/trivial-sum")
    expect(page.locator("#submit-button")).to_be_enabled()
    closed = page.locator("#closed-message")
    expect(closed).to_have_text(re.compile(r"^Time is up for this assessment"), timeout=30_000)
    expect(page.locator("#submit-button")).to_be_disabled()
    expect(page.locator("#run-button")).to_be_disabled()
    expect(page.locator(".timer .countdown")).to_have_text("0:00")
    page.keyboard.press("ControlOrMeta+Enter")  # the shortcut does nothing now
    expect(page.locator("#grading-state")).to_have_text("")
    page.screenshot(path="/tmp/faultline-timeup.png")
