"""Nothing a candidate writes is lost: a network drop, a second tab, a reset, the clock running
out. A real server (CSRF on), a real worker process, the Docker sandbox and Debian's chromium."""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Draft, Invite, Submission, utcnow

from .conftest import open_demo_challenge, replace_code, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(300)]

GRADING_MS = 120_000
FIX = ["def total(items):", "return sum(items)"]
FIXED_TEXT = "def total(items):\n    return sum(items)"


def _draft_text(stack) -> str | None:
    with stack.app.app_context():
        draft = db.session.scalar(select(Draft))
        text = draft.files["calc.py"] if draft else None
        db.session.remove()
    return text


def _on_failure(page, stack, name: str) -> None:
    page.screenshot(path=f"/tmp/faultline-{name}-failure.png", full_page=True)
    sys.stderr.write(stack.worker_log.read_text(errors="replace")[-8000:])


def test_an_edit_made_offline_reaches_the_server_when_the_network_returns(stack, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        editor = open_demo_challenge(page, stack)
        context.set_offline(True)
        replace_code(page, editor, ["# written offline"])
        state = page.locator("#save-state")
        offline = "Not saved: cannot reach the server; retrying"
        expect(state).to_contain_text(offline, timeout=10_000)
        assert _draft_text(stack) is None

        context.set_offline(False)  # no keystroke after this: the page retries by itself
        expect(state).to_contain_text("Saved", timeout=40_000)
        assert _draft_text(stack) == "# written offline"
    except Exception:
        _on_failure(page, stack, "offline")
        raise
    finally:
        context.close()


def test_a_stale_save_from_a_second_tab_is_refused_and_explained(stack, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    first, second = context.new_page(), context.new_page()
    problems: list[str] = []
    watch_for_errors(second, problems)
    try:
        first_editor = open_demo_challenge(first, stack)
        second_editor = open_demo_challenge(second, stack, start=False)

        replace_code(first, first_editor, ["# from the first tab"])
        expect(first.locator("#save-state")).to_contain_text("Saved", timeout=15_000)

        replace_code(second, second_editor, ["# from the second tab"])
        stale = second.locator("#stale-message")
        expect(stale).to_be_visible(timeout=15_000)
        expect(stale).to_contain_text("saved from another tab or window")
        expect(second.locator("#save-state")).to_have_text("Not saved: a newer copy exists")
        assert _draft_text(stack) == "# from the first tab"

        # The second tab takes the newer text; the first tab, now behind, chooses to overwrite.
        stale.get_by_role("button", name="Reload the newer text").click()
        expect(second_editor).to_have_text("# from the first tab")
        replace_code(second, second_editor, ["# second tab, after reloading"])
        expect(second.locator("#save-state")).to_contain_text("Saved", timeout=15_000)

        replace_code(first, first_editor, ["# first tab insists"])
        first_stale = first.locator("#stale-message")
        expect(first_stale).to_be_visible(timeout=15_000)
        first_stale.get_by_role("button", name="Overwrite it with this page's text").click()
        expect(first.locator("#save-state")).to_contain_text("Saved", timeout=15_000)
        expect(first_stale).to_be_hidden()
        assert _draft_text(stack) == "# first tab insists"
        # The refused save shows in the console as a 409; nothing else may go wrong.
        assert all("status of 409" in problem for problem in problems), problems
    except Exception:
        _on_failure(second, stack, "two-tabs")
        raise
    finally:
        context.close()


def test_reset_to_starter_asks_first_and_can_be_undone(stack, browser):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        editor = open_demo_challenge(page, stack)
        starter = editor.inner_text()
        replace_code(page, editor, ["# my work"])
        expect(page.locator("#save-state")).to_contain_text("Saved", timeout=15_000)

        page.once("dialog", lambda dialog: dialog.dismiss())
        page.click("#reset-button")
        expect(editor).to_have_text("# my work")

        messages: list[str] = []
        page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
        page.click("#reset-button")
        assert "Reset calc.py to the starter code?" in messages[0]
        expect(editor).to_contain_text("range(len(items) - 1)")
        assert editor.inner_text() == starter
        expect(page.locator("#save-state")).to_contain_text("Saved", timeout=15_000)
        assert "range(len(items) - 1)" in _draft_text(stack)

        editor.click()
        page.keyboard.press("ControlOrMeta+z")
        expect(editor).to_have_text("# my work")
    except Exception:
        _on_failure(page, stack, "reset")
        raise
    finally:
        page.close()


def test_when_time_runs_out_the_saved_draft_is_submitted_and_graded(stack, browser):
    """The worker's reconciler closes the attempt on the server's clock: the page may be
    closed. Before that, the last test run's output survives a reload."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        editor = open_demo_challenge(page, stack)
        replace_code(page, editor, FIX)
        expect(page.locator("#save-state")).to_contain_text("Saved", timeout=15_000)
        page.keyboard.press("ControlOrMeta+Enter")
        expect(page.locator("#grading-state")).to_have_text("Test run: Graded", timeout=GRADING_MS)
        page.reload()
        expect(page.locator("#output .result-head")).to_contain_text("Visible tests: ")
        expect(page.locator("#output pre.console")).to_contain_text("1 passed")
        page.close()  # the laptop is closed

        with stack.app.app_context():
            invite = db.session.scalar(select(Invite))
            limit = timedelta(minutes=invite.assessment.time_limit_minutes)
            invite.started_at = utcnow() - limit - timedelta(seconds=1)
            db.session.commit()
            db.session.remove()

        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{stack.base}/i/{stack.token}/overview")
        status = page.locator(".challenges")
        for _ in range(60):  # the reconciler runs every 3 s, then the worker grades
            if "Submitted at time-out · 4/4" in status.inner_text():
                break
            page.wait_for_timeout(2000)
            page.reload()
        expect(status).to_contain_text("Submitted at time-out · 4/4")
        expect(page.locator("#finish-button")).to_have_count(0)
        expect(page.locator("#closed-message")).to_contain_text("submitted for you")
        with stack.app.app_context():
            (submitted,) = db.session.scalars(
                select(Submission).where(Submission.mode == "submit")
            ).all()
            assert submitted.at_timeout and submitted.files["calc.py"] == FIXED_TEXT
            db.session.remove()
    except Exception:
        _on_failure(page, stack, "time-out")
        raise
    finally:
        page.close()


def test_undo_history_survives_a_reload_in_the_same_browser(stack, browser):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    try:
        editor = open_demo_challenge(page, stack)
        starter = editor.inner_text()
        replace_code(page, editor, ["# my work"])
        expect(page.locator("#save-state")).to_contain_text("Saved", timeout=15_000)

        page.reload()
        expect(editor).to_have_text("# my work")
        editor.click()
        for _ in range(10):  # typing is undone in groups, as the editor made them
            page.keyboard.press("ControlOrMeta+z")
            if editor.inner_text() == starter:
                break
        assert editor.inner_text() == starter
        expect(page.locator("#save-state")).to_have_attribute("data-state", "saved")

        # Another browser has the same text from the server but not this browser's history.
        other = browser.new_page(viewport={"width": 1366, "height": 768})
        other.goto(f"{stack.base}/i/{stack.token}/c/trivial-sum")
        other_editor = other.locator(".editor-pane:not([hidden]) .cm-content")
        expect(other_editor).to_contain_text("range(len(items) - 1)")  # the undone text, saved
        other_editor.click()
        other.keyboard.press("ControlOrMeta+z")
        expect(other_editor).to_contain_text("range(len(items) - 1)")
        other.close()
    except Exception:
        _on_failure(page, stack, "undo")
        raise
    finally:
        context.close()
