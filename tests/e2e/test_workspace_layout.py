"""The challenge page's room to work, in a real browser: panes resized by dragging and by keyboard,
hidden and brought back, all remembered; 30+ lines of code at 1366x768; a line-wrap toggle; file
tabs that never hide a file; no sideways scrolling at 390 px wide."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import ChallengeVersion, Invite
from app.services.candidates import start
from app.services.library import store_version
from app.services.review import create_assessment, create_invite
from app.services.users import create_user
from grader.spec import load_challenge

from ..conftest import REPO
from .conftest import Stack, watch_for_errors

pytestmark = [pytest.mark.e2e, pytest.mark.docker, pytest.mark.timeout(300)]

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
FIVE_FILES = "circular-import-startup"
FIVE_FILE_PATHS = [
    "shop/models.py",
    "shop/services.py",
    "shop/validation.py",
    "shop/api.py",
    "shop/__init__.py",
]
VISIBLE_EDITOR = ".editor-pane:not([hidden])"


# ---- helpers ------------------------------------------------------------------------------------


def started_demo(stack: Stack) -> str:
    """The demo invite (the one-file fixture challenge trivial-sum), started."""
    with stack.app.app_context():
        start(db.session.scalar(select(Invite).where(Invite.token == stack.token)))
        db.session.remove()
    return stack.token


def started_five_file_invite(stack: Stack) -> str:
    """A started invite to an assessment of the library's five-file challenge."""
    with stack.app.app_context():
        store_version(load_challenge(REPO / "challenges" / FIVE_FILES))
        db.session.commit()
        version = db.session.scalar(
            select(ChallengeVersion).where(ChallengeVersion.slug == FIVE_FILES)
        )
        owner = create_user("layout@example.com", "Layout Tester", "interviewer", "x" * 16)
        assessment = create_assessment("Five files", 45, [version], owner)
        invite = start(create_invite(assessment, "Five Files Candidate", None))
        token = invite.token
        db.session.remove()
    return token


@pytest.fixture
def script_errors() -> Iterator[list[str]]:
    """The pages' script and console errors; a test that caused any fails."""
    errors: list[str] = []
    yield errors
    assert not errors, errors


def open_challenge(browser, stack: Stack, token: str, slug: str, viewport: dict, errors: list):
    page = browser.new_page(viewport=viewport)
    watch_for_errors(page, errors)
    page.goto(f"{stack.base}/i/{token}/c/{slug}")
    page.locator(f"{VISIBLE_EDITOR} .cm-line").first.wait_for()
    settle(page)
    return page


def settle(page) -> None:
    """Wait for the layout code's next frames (it measures in requestAnimationFrame)."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def box(page, selector: str) -> dict:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not displayed"
    return found


def drag(page, selector: str, dx: float, dy: float) -> None:
    grip = box(page, selector)
    x, y = grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=8)
    page.mouse.up()
    settle(page)


def reload(page) -> None:
    page.reload()
    page.locator(f"{VISIBLE_EDITOR} .cm-line").first.wait_for()
    settle(page)


def open_file(page, path: str) -> None:
    """Open ``path`` from its tab, or from the more-files menu when its tab has no room."""
    tab = page.locator(f"#file-tabs .tab[data-path='{path}']")
    if tab.is_hidden():
        page.locator("#tab-overflow-button").click()
        page.locator(f".tab-overflow-item[data-path='{path}']").click()
    else:
        tab.click()
    page.wait_for_function(
        "(path) => document.querySelector(`.editor-pane[data-path='${path}']:not([hidden])`)",
        arg=path,
    )
    settle(page)


def fully_visible_code_lines(page) -> int:
    """Lines of code whose whole height is inside the visible editor's scroll area."""
    return page.evaluate(
        """(selector) => {
          const scroller = document
            .querySelector(selector + " .cm-scroller")
            .getBoundingClientRect();
          return Array.from(document.querySelectorAll(selector + " .cm-line")).filter((line) => {
            const r = line.getBoundingClientRect();
            return r.height > 0 && r.top >= scroller.top - 0.5 && r.bottom <= scroller.bottom + 0.5;
          }).length;
        }""",
        VISIBLE_EDITOR,
    )


def longest_line(page) -> dict:
    """The visible editor's longest line: its height, the editor's line height, and whether
    the editor scrolls sideways."""
    return page.evaluate(
        """(selector) => {
          const lines = Array.from(document.querySelectorAll(selector + " .cm-line"));
          const longest = lines.reduce((a, b) =>
            b.textContent.length > a.textContent.length ? b : a,
          );
          const scroller = document.querySelector(selector + " .cm-scroller");
          return {
            height: longest.getBoundingClientRect().height,
            lineHeight: parseFloat(getComputedStyle(scroller).lineHeight),
            scrollsSideways: scroller.scrollWidth > scroller.clientWidth + 1,
          };
        }""",
        VISIBLE_EDITOR,
    )


def contrast_on_background(page, selector: str) -> list[dict]:
    """For each element: its text colour and the colour it is painted on (the nearest
    background that is not transparent), as [r, g, b]."""
    return page.evaluate(
        """(selector) => {
          const rgb = (css) => css.match(/[\\d.]+/g).slice(0, 4).map(Number);
          return Array.from(document.querySelectorAll(selector)).map((node) => {
            let back = node;
            while (back && (rgb(getComputedStyle(back).backgroundColor)[3] ?? 1) === 0) {
              back = back.parentElement;
            }
            return {
              text: node.textContent.trim(),
              fg: rgb(getComputedStyle(node).color).slice(0, 3),
              bg: rgb(getComputedStyle(back || document.body).backgroundColor).slice(0, 3),
            };
          });
        }""",
        selector,
    )


def contrast_ratio(fg: list[float], bg: list[float]) -> float:
    def luminance(colour: list[float]) -> float:
        def channel(value: float) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(v) for v in colour)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted([luminance(fg), luminance(bg)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


def page_scroll_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


# ---- resizing -----------------------------------------------------------------------------------


def test_dragging_the_splitters_resizes_the_panes_and_the_sizes_survive_a_reload(
    stack, browser, script_errors
):
    page = open_challenge(browser, stack, started_demo(stack), "trivial-sum", LAPTOP, script_errors)
    brief_before = box(page, "#brief-panel")["width"]
    editor_before = box(page, "#editor-column")["width"]
    output_before = box(page, "#output-panel")["height"]
    host_before = box(page, "#editor-host")["height"]

    drag(page, "#brief-splitter", 150, 0)
    drag(page, "#output-splitter", 0, -120)

    brief_after = box(page, "#brief-panel")["width"]
    output_after = box(page, "#output-panel")["height"]
    assert brief_after == pytest.approx(brief_before + 150, abs=2)
    assert box(page, "#editor-column")["width"] == pytest.approx(editor_before - 150, abs=2)
    assert output_after == pytest.approx(output_before + 120, abs=2)
    assert box(page, "#editor-host")["height"] == pytest.approx(host_before - 120, abs=2)
    room = box(page, "#workspace")["width"] - box(page, "#brief-splitter")["width"]
    valuenow = int(page.get_attribute("#brief-splitter", "aria-valuenow"))
    assert valuenow == round(100 * brief_after / room)

    reload(page)
    assert box(page, "#brief-panel")["width"] == pytest.approx(brief_after, abs=1)
    assert box(page, "#output-panel")["height"] == pytest.approx(output_after, abs=1)


def test_the_separators_resize_the_panes_with_the_arrow_keys(stack, browser, script_errors):
    page = open_challenge(browser, stack, started_demo(stack), "trivial-sum", LAPTOP, script_errors)
    splitter = page.locator("#brief-splitter")
    assert splitter.get_attribute("role") == "separator"
    assert splitter.get_attribute("aria-orientation") == "vertical"
    assert page.get_attribute("#output-splitter", "aria-orientation") == "horizontal"
    width = box(page, "#brief-panel")["width"]
    value = int(splitter.get_attribute("aria-valuenow"))

    splitter.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    wider = box(page, "#brief-panel")["width"]
    assert wider > width + 60  # three steps of 2% of 1361 px
    assert int(splitter.get_attribute("aria-valuenow")) == value + 6
    page.keyboard.press("ArrowLeft")
    assert box(page, "#brief-panel")["width"] < wider
    page.keyboard.press("Home")
    assert box(page, "#brief-panel")["width"] == pytest.approx(200, abs=1)
    assert splitter.get_attribute("aria-valuenow") == splitter.get_attribute("aria-valuemin")
    page.keyboard.press("End")
    assert box(page, "#editor-column")["width"] == pytest.approx(360, abs=1)

    output = box(page, "#output-panel")["height"]
    page.locator("#output-splitter").focus()
    page.keyboard.press("Shift+ArrowUp")  # a big step: 10%
    taller = box(page, "#output-panel")["height"]
    assert taller > output + 50
    reload(page)
    assert box(page, "#output-panel")["height"] == pytest.approx(taller, abs=1)
    assert box(page, "#editor-column")["width"] == pytest.approx(360, abs=1)


def test_the_pane_sizes_follow_a_window_resize(stack, browser, script_errors):
    page = open_challenge(browser, stack, started_demo(stack), "trivial-sum", LAPTOP, script_errors)
    drag(page, "#brief-splitter", 200, 0)
    share = box(page, "#brief-panel")["width"] / box(page, "#workspace")["width"]

    page.set_viewport_size({"width": 1000, "height": 700})
    page.wait_for_function(
        "(share) => Math.abs(document.getElementById('brief-panel').offsetWidth"
        " - share * document.getElementById('workspace').offsetWidth) < 8",
        arg=share,
    )
    assert box(page, "#editor-column")["width"] >= 360
    assert box(page, "#editor-host")["height"] >= 120
    assert page_scroll_width(page) <= 1000

    page.set_viewport_size({"width": 700, "height": 700})  # narrow: the panes stack
    page.wait_for_function(
        "() => document.getElementById('brief-panel').getBoundingClientRect().bottom"
        " <= document.getElementById('editor-host').getBoundingClientRect().top"
    )
    assert page_scroll_width(page) <= 700

    page.set_viewport_size(LAPTOP)
    page.wait_for_function(
        "(share) => Math.abs(document.getElementById('brief-panel').offsetWidth"
        " - share * document.getElementById('workspace').offsetWidth) < 3",
        arg=share,
    )


# ---- hiding -------------------------------------------------------------------------------------


def test_hiding_the_brief_and_the_output_and_bringing_them_back(stack, browser, script_errors):
    from playwright.sync_api import expect

    page = open_challenge(browser, stack, started_demo(stack), "trivial-sum", LAPTOP, script_errors)
    brief_width = box(page, "#brief-panel")["width"]
    editor_width = box(page, "#editor-column")["width"]
    output_height = box(page, "#output-panel")["height"]
    host_height = box(page, "#editor-host")["height"]

    page.get_by_role("button", name="Hide the brief").click()
    expect(page.locator("#brief-panel")).to_be_hidden()
    expect(page.locator("#brief-splitter")).to_be_hidden()
    show_brief = page.get_by_role("button", name="Show brief")
    expect(show_brief).to_be_visible()
    expect(show_brief).to_be_focused()
    assert box(page, "#editor-column")["width"] > editor_width + brief_width - 60

    toggle = page.locator("#toggle-output")
    toggle.click()
    expect(page.locator("#output")).to_be_hidden()
    expect(toggle).to_have_text("Show output")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator(".output-head")).to_be_visible()  # the grading state's place
    assert box(page, "#editor-host")["height"] > host_height + output_height - 50

    reload(page)  # hidden stays hidden
    expect(page.locator("#brief-panel")).to_be_hidden()
    expect(page.locator("#output")).to_be_hidden()

    show_brief.click()
    expect(page.locator("#brief-panel")).to_be_visible()
    expect(page.get_by_role("button", name="Hide the brief")).to_be_focused()
    assert box(page, "#brief-panel")["width"] == pytest.approx(brief_width, abs=1)
    toggle.click()
    expect(page.locator("#output")).to_be_visible()
    expect(toggle).to_have_text("Hide output")
    assert box(page, "#output-panel")["height"] == pytest.approx(output_height, abs=1)


def test_enter_on_a_separator_hides_its_pane(stack, browser, script_errors):
    from playwright.sync_api import expect

    page = open_challenge(browser, stack, started_demo(stack), "trivial-sum", LAPTOP, script_errors)
    page.locator("#output-splitter").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#output")).to_be_hidden()
    expect(page.locator("#toggle-output")).to_be_focused()
    page.keyboard.press("Enter")  # the focused Show output button
    expect(page.locator("#output")).to_be_visible()


# ---- room for code ------------------------------------------------------------------------------


def test_the_editor_shows_at_least_30_lines_at_1366x768(stack, browser, script_errors):
    page = open_challenge(
        browser, stack, started_five_file_invite(stack), FIVE_FILES, LAPTOP, script_errors
    )
    open_file(page, "shop/services.py")  # 68 lines
    assert fully_visible_code_lines(page) >= 30
    open_file(page, "shop/api.py")  # read-only: its banner shows too
    assert fully_visible_code_lines(page) >= 30


def test_the_wrap_toggle_wraps_long_lines_and_is_remembered(stack, browser, script_errors):
    from playwright.sync_api import expect

    # 1000 px wide: the editor is narrower than the starter's longest lines (95 characters).
    viewport = {"width": 1000, "height": 768}
    page = open_challenge(
        browser, stack, started_five_file_invite(stack), FIVE_FILES, viewport, script_errors
    )
    wrap = page.get_by_label("Wrap lines")
    expect(wrap).not_to_be_checked()
    line = longest_line(page)
    assert line["scrollsSideways"]
    assert line["height"] == pytest.approx(line["lineHeight"], abs=1)

    wrap.check()
    line = longest_line(page)
    assert not line["scrollsSideways"]
    assert line["height"] >= 2 * line["lineHeight"] - 1

    reload(page)
    expect(wrap).to_be_checked()
    assert not longest_line(page)["scrollsSideways"]
    open_file(page, "shop/api.py")  # every file's editor wraps
    line = longest_line(page)
    assert not line["scrollsSideways"]
    assert line["height"] >= 2 * line["lineHeight"] - 1

    wrap.uncheck()
    assert longest_line(page)["scrollsSideways"]
    reload(page)
    expect(wrap).not_to_be_checked()


# ---- file tabs ----------------------------------------------------------------------------------


def test_every_file_tab_is_shown_or_listed_in_the_more_files_menu_at_1366x768(
    stack, browser, script_errors
):
    from playwright.sync_api import expect

    page = open_challenge(
        browser, stack, started_five_file_invite(stack), FIVE_FILES, LAPTOP, script_errors
    )
    strip = box(page, ".tab-strip")
    shown = []
    for tab in page.locator("#file-tabs .tab").all():
        if tab.is_visible():
            shown.append(tab.get_attribute("data-path"))
            edges = tab.bounding_box()
            assert (
                strip["x"] <= edges["x"]
                and edges["x"] + edges["width"] <= strip["x"] + strip["width"]
            )
    more = page.locator("#tab-overflow-button")
    listed = []
    if more.is_visible():
        expect(more).to_have_text(f"+{5 - len(shown)} more")
        more.click()
        expect(more).to_have_attribute("aria-expanded", "true")
        listed = page.locator(".tab-overflow-item").evaluate_all(
            "(items) => items.map((item) => item.dataset.path)"
        )
        page.keyboard.press("Escape")
        expect(page.locator("#tab-overflow-menu")).to_be_hidden()
        expect(more).to_be_focused()
    assert sorted(shown + listed) == sorted(FIVE_FILE_PATHS)
    assert len(shown) >= 2  # the strip has room for more than the open file

    # A listed file opens from the menu and its tab takes a place in the row.
    last = FIVE_FILE_PATHS[-1]
    open_file(page, last)
    expect(page.locator(f".tab[data-path='{last}']")).to_be_visible()
    expect(page.locator(f".tab[data-path='{last}']")).to_have_attribute("aria-selected", "true")
    expect(page.locator(VISIBLE_EDITOR)).to_have_attribute("data-path", last)
    listed = page.locator(".tab-overflow-item").evaluate_all(
        "(items) => items.map((item) => item.dataset.path)"
    )
    shown = [
        t.get_attribute("data-path")
        for t in page.locator("#file-tabs .tab").all()
        if t.is_visible()
    ]
    assert sorted(shown + listed) == sorted(FIVE_FILE_PATHS)


def test_read_only_tabs_and_line_numbers_meet_aa_contrast(stack, browser, script_errors):
    page = open_challenge(
        browser, stack, started_five_file_invite(stack), FIVE_FILES, LAPTOP, script_errors
    )
    open_file(page, "shop/api.py")  # so one read-only tab shows unselected, one selected
    open_file(page, "shop/__init__.py")
    painted = contrast_on_background(page, "#file-tabs .tab.readonly")
    painted += contrast_on_background(page, f"{VISIBLE_EDITOR} .cm-gutterElement")
    assert len(painted) > 2
    for item in painted:
        ratio = contrast_ratio(item["fg"], item["bg"])
        assert ratio >= 4.5, f"{item['text']!r}: {ratio:.2f}:1"


# ---- narrow screens -----------------------------------------------------------------------------


def test_the_overview_and_the_challenge_page_fit_390px_without_sideways_scrolling(
    stack, browser, script_errors
):
    from playwright.sync_api import expect

    token = started_five_file_invite(stack)
    page = open_challenge(browser, stack, token, FIVE_FILES, PHONE, script_errors)
    assert page_scroll_width(page) <= 390
    brief, editor = box(page, "#brief-panel"), box(page, "#editor-host")
    assert brief["y"] + brief["height"] <= editor["y"]  # stacked, not side by side
    assert editor["width"] >= 380 and editor["height"] >= 300
    for button in ("#run-button", "#submit-button", "#wrap-lines"):
        edges = box(page, button)
        assert edges["x"] >= 0 and edges["x"] + edges["width"] <= 390

    # The editor still takes typing, and every file is still reachable.
    page.locator(f"{VISIBLE_EDITOR} .cm-content").click()
    page.keyboard.press("ControlOrMeta+End")
    page.keyboard.type("# typed on a phone")
    expect(page.locator(f"{VISIBLE_EDITOR} .cm-content")).to_contain_text("# typed on a phone")
    page.locator("#tab-overflow-button").click()
    expect(page.locator("#tab-overflow-menu")).to_be_visible()
    assert page_scroll_width(page) <= 390  # the open menu too
    page.keyboard.press("Escape")
    open_file(page, FIVE_FILE_PATHS[-1])
    assert page_scroll_width(page) <= 390

    page.goto(f"{stack.base}/i/{token}/overview")
    expect(page.get_by_role("link", name="Open")).to_be_visible()
    assert page_scroll_width(page) <= 390
    page.goto(f"{stack.base}/i/{started_demo(stack)}/overview")
    expect(page.locator("#finish-button")).to_be_visible()
    assert page_scroll_width(page) <= 390
