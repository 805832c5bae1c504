"""Regenerate the README's screenshots (docs/screenshots/) from a real run of the product.

`make screenshots` runs this: a fresh SQLite database with the challenge library, the web app on
a free port, a real grading worker and the Docker sandbox, and Debian's chromium at 1366x768. A
candidate opens the order-counts-n-plus-one challenge, runs the visible tests on the starter,
then submits a fix that batches the query with an inner join (so the report shows passing
and failing checks with their evidence); an interviewer opens the review.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1366, "height": 768}
CHALLENGE = "order-counts-n-plus-one"
GRADING_MS = 180_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="faultline-shots-") as folder:
        take_screenshots(Path(folder), args.out)


def take_screenshots(folder: Path, out: Path) -> None:
    from werkzeug.serving import make_server

    from app import create_app

    database_url = f"sqlite:///{folder / 'shots.db'}"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    queue = f"screenshots-{secrets.token_hex(4)}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "RATELIMIT_STORAGE_URI": redis_url,
            "RATELIMIT_KEY_PREFIX": queue,
            "GRADING_QUEUE": queue,
            "CHALLENGES_DIR": REPO / "challenges",
        }
    )
    password = secrets.token_urlsafe(12)
    token = _prepare(app, password)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    worker = _start_worker(database_url, redis_url, queue, folder / "worker.log")
    try:
        _browse(base, token, password, out)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        server.shutdown()
        _delete_queues(app, queue)
    for shot in sorted(out.glob("*.png")):
        print(f"screenshots: wrote {shot}")


def _prepare(app, password: str) -> str:
    from app.extensions import db
    from app.services import candidates, review
    from app.services.library import current_versions, sync_library
    from app.services.users import create_user

    with app.app_context():
        db.create_all()
        sync_library(app.config["CHALLENGES_DIR"])
        version = next(v for v in current_versions() if v.slug == CHALLENGE)
        owner = create_user("ivy@example.com", "Ivy Interviewer", "interviewer", password)
        assessment = review.create_assessment(
            "Backend engineer: production debugging", version.time_limit_minutes, [version], owner
        )
        invite = review.create_invite(assessment, "Sam Candidate", "sam@example.com")
        candidates.start(invite)
        token = invite.token
        db.session.remove()
    return token


def _start_worker(database_url: str, redis_url: str, queue: str, log: Path) -> subprocess.Popen:
    command = [str(Path(sys.executable).parent / "rq"), "worker", "--url", redis_url]
    command += ["--worker-class", "app.worker.GradingWorker", queue, f"{queue}-background"]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "FAULTLINE_QUEUE": queue,
        "FAULTLINE_CHALLENGES_DIR": str(REPO / "challenges"),
    }
    return subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        start_new_session=True,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _browse(base: str, token: str, password: str, out: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    wrong = REPO / "challenges" / CHALLENGE / "fixes" / "wrong" / "inner-join" / "user_listing.py"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT)

        page.goto(f"{base}/i/{token}/c/{CHALLENGE}")
        page.click("#run-button")
        expect(page.locator("#grading-state")).to_contain_text("Graded", timeout=GRADING_MS)
        page.screenshot(path=out / "candidate-challenge.png")

        _replace_open_file(page, wrong.read_text())
        page.click("#submit-button")
        expect(page.locator("#grading-state")).to_contain_text("Graded", timeout=GRADING_MS)
        page.get_by_role("link", name="Open the full report").click()
        page.wait_for_load_state()
        time.sleep(0.5)
        page.screenshot(path=out / "candidate-report.png")

        page.goto(f"{base}/login")
        page.fill("#email", "ivy@example.com")
        page.fill("#password", password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{base}/review/")
        page.get_by_role("link", name="Backend engineer: production debugging").click()
        page.locator("tr", has_text="Sam Candidate").get_by_role("link", name="Review").click()
        page.wait_for_load_state()
        page.screenshot(path=out / "review-candidate.png")
        browser.close()


def _replace_open_file(page, text: str) -> None:
    """Put ``text`` in the open editor as a paste would (one edit, autosaved)."""
    editor = page.locator(".editor-pane:not([hidden]) .cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(text)
    expect_saved = page.locator("#save-state")
    for _ in range(100):
        if "Saved" in (expect_saved.text_content() or ""):
            return
        time.sleep(0.1)


def _delete_queues(app, queue: str) -> None:
    from rq import Queue

    from app.queue import FRONT_QUEUE_SUFFIX, redis_connection

    with app.app_context():
        for name in (queue, queue + FRONT_QUEUE_SUFFIX, f"{queue}-background"):
            Queue(name, connection=redis_connection()).delete(delete_jobs=True)


if __name__ == "__main__":
    main()
