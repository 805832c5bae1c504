"""axe-core in the browser tests: run it on the page a test has open and fail on what a person
using a screen reader, a keyboard or weak eyesight would trip over.

axe-core's JavaScript comes from the axe-playwright-python package (MIT; it ships axe-core's
axe.min.js, MPL-2.0), a dev dependency in pyproject.toml: nothing is fetched at run time. It is
injected with Playwright's add_script_tag, an inline script: the pages' Content-Security-Policy
(script-src 'self') would block it, so the browser context that audits must be made with
``bypass_csp=True`` (see ``AUDIT_CONTEXT``). That changes nothing axe looks at.

A page fails on every violation whose impact is serious or critical, and on every colour-contrast
violation (WCAG AA: 4.5:1 for normal text) whatever axe rates it. Nothing is excluded.
"""

from __future__ import annotations

from pathlib import Path

import axe_playwright_python

AXE_JS = Path(axe_playwright_python.__file__).with_name("axe.min.js")
FAILING_IMPACTS = frozenset({"serious", "critical"})
ALWAYS_FAILING_RULES = frozenset({"color-contrast"})
# Browser context options for a page that is audited (see the module's docstring).
AUDIT_CONTEXT = {"bypass_csp": True}


_RUN_AXE = """
async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations.map((violation) => ({
    id: violation.id,
    impact: violation.impact,
    help: violation.help,
    nodes: violation.nodes.map((node) => ({
      target: node.target.join(" "),
      summary: node.failureSummary,
    })),
  }));
}
"""


def violations(page) -> list[dict]:
    """axe's violations on ``page`` as it is now, each with the nodes at fault."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        raise AssertionError(
            "axe-core did not load: the browser context must be made with bypass_csp=True"
        )
    return page.evaluate(_RUN_AXE)


def failures(found: list[dict]) -> list[str]:
    """One line per node that fails the check: a serious or critical violation, or any
    colour-contrast one."""
    lines = []
    for violation in found:
        failing = violation["impact"] in FAILING_IMPACTS or violation["id"] in ALWAYS_FAILING_RULES
        if not failing:
            continue
        for node in violation["nodes"]:
            lines.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']}\n"
                f"    at {node['target']}\n    {node['summary']}".replace("\n  ", "\n      ")
            )
    return lines


def assert_accessible(page, name: str) -> None:
    """Fail, listing every element at fault, if axe finds a failing violation on ``page``."""
    problems = failures(violations(page))
    assert not problems, f"{name} ({page.url}): {len(problems)} accessibility failures\n" + (
        "\n".join(problems)
    )
