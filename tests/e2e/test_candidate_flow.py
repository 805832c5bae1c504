"""The candidate's whole flow in a real browser: a real server (CSRF on), a real RQ worker
process, the Docker sandbox, and Debian's chromium driven by Playwright."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from app.extensions import db

from .conftest import replace_code, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(420)]

GRADING_SECONDS = 120_000  # ms: a busy machine and a cold sandbox can be slow
REPORT_SHOT = Path("/tmp/faultline-report.png")
EDITOR_SHOT = Path("/tmp/faultline-editor.png")


def test_candidate_fixes_the_bug_in_the_browser(stack, browser):
    from playwright.sync_api import expect

    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    watch_for_errors(page, problems)
    try:
        _scenario(page, expect, stack.base, stack.token)
        assert not problems, problems
        _time_runs_out(page, expect, stack.app, stack.base, stack.token)
        # The browser logs the server's refusals; nothing else may go wrong.
        assert all("status of 403" in p for p in problems), problems
    except Exception:
        page.screenshot(path="/tmp/faultline-e2e-failure.png", full_page=True)
        sys.stderr.write(stack.worker_log.read_text(errors="replace")[-4000:])
        raise


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
    replace_code(page, editor, ["def total(items):", "return sum(items)"])
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
    expect(grading).to_have_text("Submission #2: Graded", timeout=GRADING_SECONDS)
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
    editor = page.locator(".editor-pane:not([hidden]) .cm-content")
    expect(editor).to_contain_text("return sum(items)")

    # A run of code that does not import: an error that leads with the candidate's own line.
    replace_code(page, editor, ["def total(items:"])
    expect(page.locator("#save-state")).to_contain_text("Saved", timeout=15_000)
    page.keyboard.press("ControlOrMeta+Enter")
    expect(grading).to_have_text("Test run: Error", timeout=GRADING_SECONDS)
    head = output.locator(".result-head")
    expect(head).to_contain_text("Error: your code failed to import: SyntaxError: ")
    expect(head).to_contain_text("(calc.py, line 1)")


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
