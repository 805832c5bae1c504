"""axe-core on the main pages, in Chromium: the candidate's landing page, overview, challenge
page and report; the interviewer's dashboard, assessment, new-assessment form, candidate review
and compare. Serious and critical violations fail, and so does any text below WCAG AA contrast
(see tests/e2e/accessibility.py). The pages are audited with real content: a graded submission
with its evidence charts, and a challenge the candidate never touched."""

from __future__ import annotations

import re
import shutil
import sys

import pytest

from app.extensions import db
from app.models import Assessment, AssessmentItem, ChallengeVersion
from app.services.library import sync_library
from app.services.users import create_user

from ..conftest import FIXTURE_CHALLENGES
from .accessibility import AUDIT_CONTEXT, assert_accessible
from .conftest import Stack, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(600)]

PASSWORD = "a long enough password"
GRADING_MS = 120_000


def _second_challenge(stack: Stack, tmp_path) -> None:
    """A second challenge in the demo assessment, which the candidate leaves untouched."""
    folder = tmp_path / "library" / "untouched-sum"
    shutil.copytree(FIXTURE_CHALLENGES / "trivial-sum", folder)
    spec = (folder / "challenge.yaml").read_text()
    spec = spec.replace("id: trivial-sum", "id: untouched-sum")
    spec = spec.replace("title: Sum is off by one", "title: Another sum, never opened")
    (folder / "challenge.yaml").write_text(spec)
    with stack.app.app_context():
        sync_library(folder.parent)
        version = db.session.query(ChallengeVersion).filter_by(slug="untouched-sum").one()
        assessment = db.session.query(Assessment).one()
        assessment.items.append(AssessmentItem(challenge=version, position=1))
        create_user("ada@example.com", "Ada Admin", "admin", PASSWORD)
        db.session.commit()
        db.session.remove()


def _audit(page, name: str, found: dict[str, str]) -> None:
    try:
        assert_accessible(page, name)
    except AssertionError as failure:
        found[name] = str(failure)


def test_the_main_pages_have_no_serious_accessibility_violations(stack, browser, tmp_path):
    from playwright.sync_api import expect

    _second_challenge(stack, tmp_path)
    base = stack.base
    problems: list[str] = []
    found: dict[str, str] = {}
    candidate = browser.new_context(viewport={"width": 1400, "height": 900}, **AUDIT_CONTEXT)
    staff = browser.new_context(viewport={"width": 1400, "height": 900}, **AUDIT_CONTEXT)
    page = candidate.new_page()
    watch_for_errors(page, problems)
    try:
        # The candidate: landing page, overview, the challenge page before and after a graded
        # submission (of the starter code: failed checks and evidence charts), the report.
        page.goto(f"{base}/i/{stack.token}")
        _audit(page, "candidate landing", found)
        page.click("#start-button")
        page.wait_for_url(re.compile(r"/overview$"))
        _audit(page, "candidate overview", found)
        page.get_by_role("link", name="Sum is off by one").first.click()
        expect(page.locator(".editor-pane:not([hidden]) .cm-content")).to_be_visible()
        _audit(page, "challenge page", found)
        page.click("#submit-button")
        expect(page.locator("#grading-state")).to_contain_text("Graded", timeout=GRADING_MS)
        _audit(page, "challenge page with a result", found)
        page.locator("#history a").first.click()
        expect(page.locator("svg.chart").first).to_be_visible()
        _audit(page, "candidate report", found)

        # The interviewer (an admin sees the demo assessment): dashboard, assessment, the
        # new-assessment form, the candidate's review and the compare page.
        page = staff.new_page()
        watch_for_errors(page, problems)
        page.goto(f"{base}/login")
        page.fill("#email", "ada@example.com")
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("h1")).to_have_text("Assessments")
        _audit(page, "staff dashboard", found)
        page.get_by_role("link", name=re.compile("^Demo")).click()
        expect(page.locator(".candidate-status").first).to_be_visible()
        _audit(page, "assessment", found)
        page.get_by_role("link", name="Review").first.click()
        expect(page.locator("#challenge-trivial-sum svg.chart").first).to_be_visible()
        expect(page.locator("#challenge-untouched-sum")).to_contain_text("not touched")
        _audit(page, "candidate review", found)
        page.screenshot(path="/tmp/faultline-accessibility-review.png", full_page=True)
        page.go_back()
        page.get_by_role("link", name="Compare candidates").first.click()
        expect(page.locator("table.compare")).to_be_visible()
        _audit(page, "compare", found)
        page.screenshot(path="/tmp/faultline-accessibility-compare.png", full_page=True)
        page.goto(f"{base}/review/assessments/new")
        _audit(page, "new assessment", found)

        assert not found, "\n\n".join(found.values())
        assert problems == [], problems
    except Exception:
        page.screenshot(path="/tmp/faultline-e2e-accessibility-failure.png", full_page=True)
        sys.stderr.write(stack.worker_log.read_text(errors="replace")[-4000:])
        raise
    finally:
        candidate.close()
        staff.close()
