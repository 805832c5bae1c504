"""Session replay end to end: a candidate works in a real browser (typing, a paste from outside,
a copy and paste inside the editor, time away, a test run, a submit); an interviewer replays it.
A real server (CSRF on), a real worker, the Docker sandbox and Debian's chromium."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Invite, Submission
from app.services.users import create_user

from .conftest import open_demo_challenge, replace_code, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(420)]

PASSWORD = "a long enough password"
GRADING_MS = 120_000
OUTSIDE = "# found on the internet"

# A clipboard event as a browser sends it: CodeMirror's own handlers read or fill its data.
CLIPBOARD = """([kind, text]) => {
  const data = new DataTransfer();
  if (text !== null) data.setData("text/plain", text);
  const event = new ClipboardEvent(kind, {clipboardData: data, bubbles: true, cancelable: true});
  document.querySelector(".editor-pane:not([hidden]) .cm-content").dispatchEvent(event);
  return data.getData("text/plain");
}"""


def test_an_interviewer_replays_what_the_candidate_did(stack, browser):
    from playwright.sync_api import expect

    with stack.app.app_context():
        create_user("ada@example.com", "Ada Admin", "admin", PASSWORD)
        db.session.remove()
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    watch_for_errors(page, problems)
    try:
        page.goto(f"{stack.base}/i/{stack.token}")
        expect(page.locator("#recorded")).to_contain_text("every edit in the editor")
        editor = open_demo_challenge(page, stack)

        # Typed: the fix, line by line.
        replace_code(page, editor, ["def total(items):", "return sum(items)"])
        # Pasted from outside: a comment at the end of the function.
        page.keyboard.press("ControlOrMeta+End")
        page.keyboard.press("Enter")  # the editor indents the new line of the body
        page.evaluate(CLIPBOARD, ["paste", OUTSIDE])
        # Copied inside (the first line, nothing selected: the whole line) and pasted back.
        page.keyboard.press("ControlOrMeta+Home")
        copied = page.evaluate(CLIPBOARD, ["copy", None])
        assert copied.startswith("def total(items):"), copied
        page.keyboard.press("ControlOrMeta+End")
        page.keyboard.press("Enter")
        page.evaluate(CLIPBOARD, ["paste", copied])
        page.keyboard.press("ControlOrMeta+z")  # ... and thought better of it
        # Away from the page for a moment.
        page.evaluate("window.dispatchEvent(new Event('blur'))")
        page.wait_for_timeout(1500)
        page.evaluate("window.dispatchEvent(new Event('focus'))")
        expect(page.locator("#save-state")).to_contain_text("Saved", timeout=15_000)

        page.click("#run-button")
        expect(page.locator("#grading-state")).to_have_text("Test run: Graded", timeout=GRADING_MS)
        page.click("#submit-button")
        expect(page.locator("#grading-state")).to_contain_text("Graded", timeout=GRADING_MS)
        page.wait_for_timeout(3500)  # the recorder's next batch
        page.goto(f"{stack.base}/i/{stack.token}/overview")  # leaving sends the rest
        assert not problems, problems

        with stack.app.app_context():
            invite = db.session.scalar(select(Invite))
            graded = db.session.scalars(select(Submission).where(Submission.mode == "submit")).one()
            graded_text, invite_id = graded.files["calc.py"], invite.id
            db.session.remove()
        assert f"    {OUTSIDE}" in graded_text

        staff = browser.new_page(viewport={"width": 1366, "height": 900})
        watch_for_errors(staff, problems)
        staff.goto(f"{stack.base}/login")
        staff.fill("#email", "ada@example.com")
        staff.fill("#password", PASSWORD)
        staff.get_by_role("button", name="Log in").click()
        staff.wait_for_url(f"{stack.base}/review/")
        staff.goto(f"{stack.base}/review/invites/{invite_id}")
        replay = staff.locator(".replay")
        replay.get_by_role("button", name="Load the replay").click()
        expect(replay.locator(".replay-integrity")).to_have_text(
            "The replay ends exactly at the code that was graded."
        )
        marks = replay.locator(".replay-track .replay-mark")
        expect(marks.and_(staff.locator(".paste-outside"))).to_have_count(1)
        expect(marks.and_(staff.locator(".paste-inside"))).to_have_count(1)
        expect(marks.and_(staff.locator(".away"))).to_have_count(1)
        expect(marks.and_(staff.locator(".run.passed"))).to_have_count(1)
        expect(marks.and_(staff.locator(".submit.passed"))).to_have_count(1)
        # Opened at the end: the code that was graded.
        code = replay.locator(".replay-editor .cm-content")
        assert code.inner_text().rstrip("\n") == graded_text.rstrip("\n")

        # The markers' times follow the order the candidate worked in.
        times = [int(m.split(":")[0]) * 60 + int(m.split(":")[1]) for m in _marker_times(replay)]
        assert times == sorted(times)

        # Scrub to the outside paste: the pasted text is what is highlighted.
        replay.locator(".replay-marker-list summary").click()
        replay.get_by_role("button", name="Paste from outside").click()
        expect(replay.locator(".replay-editor .fl-changed")).to_have_text(OUTSIDE)
        assert not problems, problems
    except Exception:
        page.screenshot(path="/tmp/faultline-replay-failure.png", full_page=True)
        sys.stderr.write(stack.worker_log.read_text(errors="replace")[-3000:])
        raise
    finally:
        page.close()


def _marker_times(replay) -> list[str]:
    return [
        text.split(" ", 1)[0]
        for text in replay.locator(".replay-marks .replay-mark-link").all_text_contents()
    ]


def test_events_recorded_offline_reach_the_server_when_it_is_back(stack, browser):
    """While the server cannot be reached the page keeps working and keeps its events; once
    it can, they all arrive, with no gap."""
    from playwright.sync_api import expect

    from app.models import ReplayEvent
    from app.services.replay import replay_json

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        editor = open_demo_challenge(page, stack)

        context.set_offline(True)
        replace_code(page, editor, ["def total(items):", "return sum(items)"])
        page.wait_for_timeout(4000)  # a send is due, and fails
        expect(page.locator("#save-state")).to_contain_text("cannot reach the server")
        context.set_offline(False)
        expect(page.locator("#save-state")).to_contain_text("Saved", timeout=40_000)

        with stack.app.app_context():
            for _ in range(40):  # the recorder's next try, with its backoff
                kinds = db.session.scalars(select(ReplayEvent.kind)).all()
                db.session.rollback()
                if kinds.count("change") >= len("def total(items):return sum(items)"):
                    break
                page.wait_for_timeout(1000)
            assert "gap" not in kinds, kinds
            invite = db.session.scalar(select(Invite))
            version = invite.assessment.items[0].challenge
            events = replay_json(invite, version)["events"]
            db.session.remove()
        changes = [event for event in events if event["kind"] == "change"]
        assert len(changes) >= len("def total(items):return sum(items)")
    finally:
        context.close()
