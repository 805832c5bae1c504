"""The staff side in a real browser: an interviewer sets up an assessment, invites a candidate
who submits, reviews the evidence, notes and exports; an admin uploads, verifies and publishes
a challenge. Real server with CSRF, real RQ worker, Docker sandbox, Debian's chromium."""

from __future__ import annotations

import csv
import io
import re
import sys

import pytest

from app.extensions import db
from app.services.users import create_user

from ..conftest import REPO
from .conftest import Stack, replace_code, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(600)]

PASSWORD = "a long enough password"
GRADING_MS = 120_000
VERIFYING_MS = 240_000
UPLOAD = REPO / "tests" / "fixtures" / "uploads" / "inline-sum.yaml"


def _accounts(stack: Stack) -> None:
    with stack.app.app_context():
        create_user("ivy@example.com", "Ivy Interviewer", "interviewer", PASSWORD)
        create_user("ada@example.com", "Ada Admin", "admin", PASSWORD)
        db.session.remove()


def _log_in(page, expect, base: str, email: str) -> None:
    page.goto(f"{base}/review/")
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/review/")
    expect(page.locator("h1")).to_have_text("Assessments")


def _verify_library_challenge(stack: Stack) -> None:
    """What `flask sync` does on a deployment: queue a verification of the synced challenge,
    which measures the reference solution's figures for the interviewer's charts."""
    from app.services.library import current_versions
    from app.services.verification import request_verification

    with stack.app.app_context():
        request_verification(current_versions()[0])
        db.session.remove()


def _wait_for_verification(stack: Stack, timeout_seconds: float = 240) -> None:
    import time

    from app.services.library import current_versions

    deadline = time.monotonic() + timeout_seconds
    with stack.app.app_context():
        while time.monotonic() < deadline:
            state = current_versions()[0].verification_state
            if state in ("passed", "failed", "error"):
                assert state == "passed", current_versions()[0].verification
                return
            db.session.remove()
            time.sleep(1)
    raise AssertionError("the library challenge's verification did not finish")


def _fail_with_evidence(page, stack: Stack, name: str) -> None:
    page.screenshot(path=f"/tmp/faultline-e2e-{name}-failure.png", full_page=True)
    sys.stderr.write(stack.worker_log.read_text(errors="replace")[-4000:])


def test_interviewer_invites_reviews_notes_and_exports(stack, browser, tmp_path):
    from playwright.sync_api import expect

    _accounts(stack)
    _verify_library_challenge(stack)
    base = stack.base
    problems: list[str] = []
    staff = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    page = staff.new_page()
    watch_for_errors(page, problems)
    try:
        _log_in(page, expect, base, "ivy@example.com")

        # An assessment of the fixture challenge, with a 30-minute limit.
        page.get_by_role("link", name="New assessment").first.click()
        page.fill("#title", "Backend onsite")
        page.get_by_text("Sum is off by one").click()
        page.fill("#time-limit", "30")
        page.get_by_role("button", name="Create assessment").click()
        expect(page.locator("h1")).to_have_text("Backend onsite")

        # Invite a candidate; the page shows the link to copy.
        page.fill("#candidate-name", "Casey Candidate")
        page.fill("#candidate-email", "casey@example.com")
        page.get_by_role("button", name="Create invite").click()
        link = page.locator("#new-invite-url")
        expect(link).to_have_value(re.compile(rf"^{re.escape(base)}/i/[\w-]{{40,}}$"))
        invite_url = link.input_value()
        row = page.locator("tr", has_text="Casey Candidate")
        expect(row.locator(".candidate-status")).to_have_text("Not started")
        assessment_url = page.url.split("#")[0]

        # The candidate, in a browser of their own, fixes the bug and submits.
        candidate = browser.new_context(viewport={"width": 1400, "height": 900})
        cpage = candidate.new_page()
        watch_for_errors(cpage, problems)
        cpage.goto(invite_url)
        cpage.click("#start-button")
        cpage.get_by_role("link", name="Sum is off by one").click()
        editor = cpage.locator(".editor-pane:not([hidden]) .cm-content")
        expect(editor).to_contain_text("range(len(items) - 1)")
        replace_code(cpage, editor, ["def total(items):", "return sum(items)"])
        cpage.click("#submit-button")
        expect(cpage.locator("#grading-state")).to_have_text(
            "Submission #1: Graded", timeout=GRADING_MS
        )
        cpage.goto(invite_url + "/overview")
        cpage.once("dialog", lambda dialog: dialog.accept())  # "Finish the assessment?"
        cpage.click("#finish-button")
        expect(cpage.locator("#finish-button")).to_have_count(0)
        candidate.close()

        # The interviewer's open page picks the new status up by itself.
        page.goto(assessment_url)
        expect(row.locator(".candidate-status")).to_have_text("Graded", timeout=30_000)
        expect(row).to_contain_text("4/4")

        # The review: the full report with evidence charts (the candidate's figure against the
        # starter's and the reference's), the diff against the starter.
        _wait_for_verification(stack)
        row.get_by_role("link", name="Review").click()
        expect(page.locator("h1")).to_contain_text("Casey Candidate")
        section = page.locator("#challenge-trivial-sum")
        expect(section.locator(".check.passed")).to_have_count(2)
        expect(section.locator(".check.passed svg").first).to_be_visible()
        expect(section.locator(".evidence").first).to_contain_text("starter 36; reference 45")
        expect(section.locator("pre.raw-output")).to_contain_text("passed")
        diff = section.locator("pre.diff")
        expect(diff).to_contain_text("+    return sum(items)")
        expect(diff).to_contain_text("range(len(items) - 1)")
        expect(section.locator("table.timeline tbody tr")).to_have_count(1)
        page.screenshot(path="/tmp/faultline-review.png", full_page=True)

        # A note with a rating.
        page.fill("#note-body", "Found the off-by-one quickly; clean fix.")
        page.select_option("#note-rating", "4")
        page.get_by_role("button", name="Save note").click()
        expect(page.locator(".note-list")).to_contain_text("Found the off-by-one quickly")
        expect(page.locator(".rating")).to_have_text("4 / 5")

        # Export the assessment's results as CSV.
        page.goto(assessment_url)
        with page.expect_download() as download:
            page.get_by_role("link", name="Export CSV").click()
        saved = tmp_path / "export.csv"
        download.value.save_as(saved)
        rows = list(csv.DictReader(io.StringIO(saved.read_text())))
        assert len(rows) == 1, rows
        assert rows[0]["candidate_name"] == "Casey Candidate"
        assert rows[0]["best_score"] == "4" and rows[0]["max_score"] == "4"
        assert problems == [], problems
    except Exception:
        _fail_with_evidence(page, stack, "interviewer")
        raise
    finally:
        staff.close()


def test_admin_uploads_verifies_and_publishes_a_challenge(stack, browser):
    from playwright.sync_api import expect

    _accounts(stack)
    base = stack.base
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watch_for_errors(page, problems)
    try:
        _log_in(page, expect, base, "ada@example.com")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Library").click()
        page.get_by_role("link", name="Upload a challenge").click()
        page.set_input_files("#upload-file", str(UPLOAD))
        page.get_by_role("button", name="Upload and verify").click()

        # A draft: verification runs in the sandbox and the page follows it live.
        expect(page.locator("h1")).to_have_text("Inline sum is off by one")
        expect(page.locator(".vstatus")).to_have_text("draft")
        expect(page.locator("#verification-state")).to_have_text("passed", timeout=VERIFYING_MS)
        page.screenshot(path="/tmp/faultline-verified.png", full_page=True)

        page.once("dialog", lambda dialog: dialog.accept())  # "Publish inline-sum v1 ...?"
        page.get_by_role("button", name="Publish").click()
        expect(page.locator(".vstatus")).to_have_text("published")

        # Interviewers can now build assessments with it.
        page.goto(f"{base}/review/assessments/new")
        expect(page.locator(".challenge-picker")).to_contain_text("Inline sum is off by one")
        assert problems == [], problems
    except Exception:
        _fail_with_evidence(page, stack, "admin")
        raise
    finally:
        context.close()
