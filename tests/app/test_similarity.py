"""Similarity flags: winnowing on its own, then over real submission rows with who-sees-what."""

from __future__ import annotations

import pytest
from flask import render_template, url_for
from sqlalchemy import select

from app.extensions import db
from app.models import (
    Assessment,
    AssessmentItem,
    ChallengeVersion,
    Invite,
    Submission,
    SubmissionStatus,
    VersionStatus,
)
from app.services.similarity import (
    compare,
    fingerprint,
    fingerprint_files,
    flags_for_invite,
    flags_for_version,
    shared_code_hashes,
    tokens,
    without_shared_code,
)

from .conftest import log_in

STARTER = {
    "orders.py": '''\
"""Order totals for the shop."""

import logging

log = logging.getLogger(__name__)


def load_orders(rows):
    orders = []
    for row in rows:
        orders.append({"id": row[0], "amount": row[1], "currency": row[2]})
    return orders


def total(orders):
    result = 0
    for index in range(len(orders) - 1):
        result += orders[index]["amount"]
    log.info("total of %d orders", len(orders))
    return result
'''
}

REFERENCE_TOTAL = """\
def total(orders):
    result = sum(order["amount"] for order in orders)
    log.info("total of %d orders", len(orders))
    return result
"""

UNUSUAL_TOTAL = '''\
def total(orders):
    """Add every amount, refusing anything that is not a number."""
    accumulated = 0
    seen = 0
    for position, order in enumerate(orders):
        amount = order.get("amount")
        if not isinstance(amount, (int, float)):
            raise TypeError(f"order {position} has amount {amount!r}")
        accumulated = accumulated + amount
        seen += 1
    assert seen == len(orders), "lost an order"
    log.info("total of %d orders", seen)
    return accumulated
'''

# The same code with every name changed, other comments and other messages.
RENAMED_TOTAL = """\
def total(orders):
    # sum them up
    acc = 0
    n = 0
    for i, o in enumerate(orders):
        value = o.get("amount")
        if not isinstance(value, (int, float)):
            raise TypeError(f"bad order {i}")
        acc = acc + value
        n += 1
    assert n == len(orders), "missing"
    log.info("summed %d", n)
    return acc
"""

INDEPENDENT_TOTAL = """\
def total(orders):
    from decimal import Decimal

    amounts = [Decimal(str(order["amount"])) for order in orders]
    log.info("total of %d orders", len(amounts))
    return float(sum(amounts, Decimal(0)))
"""


def with_total(new_total: str, header: str = "") -> dict[str, str]:
    """The starter's orders.py with ``total`` replaced (and optional lines on top)."""
    text = STARTER["orders.py"]
    start = text.index("def total(")
    return {"orders.py": header + text[:start] + new_total}


SOLUTION = with_total(REFERENCE_TOTAL)


def compared(this: dict[str, str], other: dict[str, str]):
    shared = shared_code_hashes(STARTER, SOLUTION)
    return compare(
        without_shared_code(fingerprint_files(this), shared),
        without_shared_code(fingerprint_files(other), shared),
        this,
        other,
    )


# Pure core.


def test_tokens_normalise_names_and_literals_and_drop_comments():
    assert [t.text for t in tokens("x = foo(1, 'a')  # hi\nif x:\n    pass\n")] == [
        *["V", "=", "V", "(", "N", ",", "S", ")"],
        *["if", "V", ":", "pass"],
    ]
    assert [t.line for t in tokens("a = 1\n\nb = 2\n")] == [1, 1, 1, 3, 3, 3]


def test_half_edited_python_still_tokenises():
    broken = 'def f(:\n    s = """never closed\n'
    assert [t.text for t in tokens(broken)][:4] == ["def", "V", "(", ":"]


def test_fingerprints_are_stable_and_ignore_names_and_layout():
    first = fingerprint(UNUSUAL_TOTAL)
    assert first == fingerprint(UNUSUAL_TOTAL)
    assert {h for h, _, _ in fingerprint(UNUSUAL_TOTAL.replace("accumulated", "a"))} == {
        h for h, _, _ in first
    }
    assert all(0 <= h < 2**64 for h, _, _ in first)


def test_identical_unusual_code_is_flagged():
    result = compared(with_total(UNUSUAL_TOTAL), with_total(UNUSUAL_TOTAL))
    assert result is not None
    assert result.score == 1.0
    assert result.shared >= 5


def test_renamed_variables_are_still_flagged():
    result = compared(with_total(UNUSUAL_TOTAL), with_total(RENAMED_TOTAL))
    assert result is not None and result.score >= 0.6


def test_sharing_only_the_starter_and_reference_is_not_flagged():
    assert compared(SOLUTION, with_total(REFERENCE_TOTAL, header="# my fix\n")) is None
    assert compared(STARTER, dict(STARTER)) is None


def test_independent_fixes_are_not_flagged():
    assert compared(with_total(UNUSUAL_TOTAL), with_total(INDEPENDENT_TOTAL)) is None


def test_the_same_small_edit_stays_below_the_minimum():
    small_fix = {"orders.py": STARTER["orders.py"].replace("len(orders) - 1", "len(orders)")}
    shared = shared_code_hashes(STARTER, SOLUTION)
    remaining = without_shared_code(fingerprint_files(small_fix), shared)
    assert 0 < len(remaining) < 5
    assert compared(small_fix, dict(small_fix)) is None


def test_regions_point_at_the_matching_lines_on_each_side():
    mine = with_total(UNUSUAL_TOTAL)
    theirs = with_total(RENAMED_TOTAL, header="# moved down three lines\n\n\n")
    result = compared(mine, theirs)
    assert result is not None and len(result.regions) == 1
    region = result.regions[0]
    first_line = mine["orders.py"].splitlines().index("    accumulated = 0") + 1
    last_line = mine["orders.py"].splitlines().index("    return accumulated") + 1
    assert region.path == region.other_path == "orders.py"
    # The match starts inside the new function body (its first line is the starter's own
    # `def total(orders):`) and reaches its end.
    assert first_line - 2 <= region.lines[0] <= first_line + 1
    assert region.lines[1] == last_line
    assert region.other_lines == (region.lines[0] + 3, region.lines[1] + 3)
    assert "enumerate(orders)" in region.this_text
    assert "enumerate(orders)" in region.other_text
    assert region.other_text.splitlines()[-1] == "    return acc"


def test_code_moved_to_another_file_is_still_matched():
    mine = with_total(UNUSUAL_TOTAL)
    theirs = {**STARTER, "totals.py": UNUSUAL_TOTAL}
    result = compared(mine, theirs)
    assert result is not None
    assert {(r.path, r.other_path) for r in result.regions} == {("orders.py", "totals.py")}


# With the database.


@pytest.fixture
def version(web_app) -> ChallengeVersion:
    return db.session.scalar(
        select(ChallengeVersion).where(ChallengeVersion.status == VersionStatus.PUBLISHED)
    )


def fixture_files(version: ChallengeVersion, body: str) -> dict[str, str]:
    """The fixture challenge's calc.py, with ``body`` added below the starter code."""
    return {"calc.py": version.payload["starter"]["calc.py"] + "\n\n" + body}


UNUSUAL_CALC = """\
def checked_total(items):
    accumulated = 0
    for position, value in enumerate(items):
        if not isinstance(value, (int, float)):
            raise TypeError(f"item {position} is {value!r}")
        accumulated = accumulated + value
    assert accumulated == sum(items), "lost an item"
    return accumulated
"""

OTHER_CALC = """\
def total_of(items):
    import math

    return math.fsum(items) if items else 0
"""


SECOND_UNUSUAL_CALC = """\
class RunningTotal:
    def __init__(self):
        self.parts = []

    def add(self, *values):
        for value in values:
            self.parts.append(value)
        return self

    def value(self):
        return sum(self.parts[i] for i in range(len(self.parts)))
"""


def make_assessment(version: ChallengeVersion, owner, title: str) -> Assessment:
    assessment = Assessment(title=title, time_limit_minutes=30, owner=owner)
    assessment.items.append(AssessmentItem(challenge=version, position=0))
    db.session.add(assessment)
    db.session.flush()
    return assessment


def make_invite(assessment: Assessment, name: str) -> Invite:
    invite = Invite(assessment=assessment, candidate_name=name)
    db.session.add(invite)
    db.session.flush()
    return invite


def submit(
    invite: Invite, version: ChallengeVersion, files: dict[str, str], **fields
) -> Submission:
    submission = Submission(
        invite=invite,
        challenge=version,
        mode=fields.pop("mode", "submit"),
        status=SubmissionStatus.GRADED,
        files=files,
        **fields,
    )
    db.session.add(submission)
    db.session.commit()
    return submission


def test_copied_code_is_flagged_with_names_and_regions_for_the_owner(version, staff):
    assessment = make_assessment(version, staff.interviewer, "Backend")
    ann, ben, cat = (make_invite(assessment, name) for name in ("Ann", "Ben", "Cat"))
    submit(ann, version, fixture_files(version, UNUSUAL_CALC))
    submit(ben, version, fixture_files(version, UNUSUAL_CALC.replace("accumulated", "acc")))
    submit(cat, version, fixture_files(version, OTHER_CALC))

    flags = flags_for_invite(ann, staff.interviewer)

    assert [(f.other_invite_id, f.other_name) for f in flags] == [(ben.id, "Ben")]
    flag = flags[0]
    assert flag.invite_id == ann.id and flag.challenge_slug == version.slug
    assert flag.score >= 0.6
    assert flag.regions and all(r.path == "calc.py" for r in flag.regions)
    assert any("enumerate(items)" in r.this_text for r in flag.regions)
    assert any("acc = acc + value" in r.other_text for r in flag.regions)
    assert flags_for_invite(cat, staff.interviewer) == []


def test_only_the_latest_candidate_submit_counts(version, staff):
    assessment = make_assessment(version, staff.interviewer, "Backend")
    ann, ben = make_invite(assessment, "Ann"), make_invite(assessment, "Ben")
    submit(ann, version, fixture_files(version, UNUSUAL_CALC))
    copied = submit(ben, version, fixture_files(version, UNUSUAL_CALC))
    assert [f.other_invite_id for f in flags_for_invite(ann, staff.interviewer)] == [ben.id]

    submit(ben, version, fixture_files(version, OTHER_CALC))
    submit(ben, version, fixture_files(version, UNUSUAL_CALC), mode="run")
    submit(ben, version, fixture_files(version, UNUSUAL_CALC), regrade_of_id=copied.id)

    assert flags_for_invite(ann, staff.interviewer) == []


def test_matches_in_an_assessment_the_viewer_cannot_see_are_shown_to_admins_only(version, staff):
    mine = make_invite(make_assessment(version, staff.interviewer, "Ivy's"), "Ann")
    theirs = make_invite(make_assessment(version, staff.other_interviewer, "Oscar's"), "Zed")
    submit(mine, version, fixture_files(version, UNUSUAL_CALC))
    submit(theirs, version, fixture_files(version, UNUSUAL_CALC))

    assert flags_for_invite(mine, staff.interviewer) == []
    assert flags_for_invite(theirs, staff.other_interviewer) == []
    assert flags_for_version(version, staff.interviewer) == []
    assert flags_for_version(version, staff.other_interviewer) == []

    [seen_by_admin] = flags_for_invite(mine, staff.admin)
    assert seen_by_admin.other_invite_id == theirs.id and seen_by_admin.other_name == "Zed"
    assert all("enumerate" in r.other_text for r in seen_by_admin.regions)
    [pair] = flags_for_version(version, staff.admin)
    assert {pair.invite_id, pair.other_invite_id} == {mine.id, theirs.id}


def test_flags_for_version_lists_each_visible_pair_once(version, staff):
    own = make_assessment(version, staff.interviewer, "Ivy's")
    ann, ben = make_invite(own, "Ann"), make_invite(own, "Ben")
    hidden_a = make_invite(make_assessment(version, staff.other_interviewer, "Oscar's"), "Xi")
    hidden_b = make_invite(hidden_a.assessment, "Yo")
    for invite in (ann, ben):
        submit(invite, version, fixture_files(version, UNUSUAL_CALC))
    for invite in (hidden_a, hidden_b):
        submit(invite, version, fixture_files(version, SECOND_UNUSUAL_CALC))

    pairs = {
        (f.invite_id, f.other_invite_id) for f in flags_for_version(version, staff.interviewer)
    }
    assert pairs in ({(ann.id, ben.id)}, {(ben.id, ann.id)})
    admin_pairs = {
        frozenset((f.invite_id, f.other_invite_id)) for f in flags_for_version(version, staff.admin)
    }
    assert admin_pairs == {frozenset((ann.id, ben.id)), frozenset((hidden_a.id, hidden_b.id))}


def test_submissions_matching_only_the_reference_are_not_flagged(version, staff):
    assessment = make_assessment(version, staff.interviewer, "Backend")
    ann, ben = make_invite(assessment, "Ann"), make_invite(assessment, "Ben")
    submit(ann, version, dict(version.payload["solution"]))
    submit(ben, version, {"calc.py": "# fixed\n" + version.payload["solution"]["calc.py"]})
    assert flags_for_invite(ann, staff.interviewer) == []
    assert flags_for_version(version, staff.admin) == []


def test_similarity_section_renders_flags_and_nothing_of_invisible_matches(version, staff, web_app):
    own = make_assessment(version, staff.interviewer, "Ivy's")
    ann, ben = make_invite(own, "Ann"), make_invite(own, "Ben")
    zed = make_invite(make_assessment(version, staff.other_interviewer, "Oscar's"), "Zed")
    submit(ann, version, fixture_files(version, UNUSUAL_CALC))
    submit(ben, version, fixture_files(version, UNUSUAL_CALC))
    submit(zed, version, fixture_files(version, UNUSUAL_CALC.replace("accumulated", "zz")))

    with web_app.test_request_context():
        html = render_template(
            "review/_similarity.html", flags=flags_for_invite(ann, staff.interviewer)
        )
        empty = render_template("review/_similarity.html", flags=[])
        ben_link = url_for("review.candidate", invite_id=ben.id)

    assert "100%" in html
    assert f'<a href="{ben_link}">Ben</a>' in html
    assert "another assessment" not in html
    assert "Zed" not in html and "zz = zz + value" not in html
    assert "<script" not in html and "style=" not in html
    assert "No submission is suspiciously similar" in empty


def test_the_candidate_review_page_shows_the_similarity_section(version, staff, client):
    own = make_assessment(version, staff.interviewer, "Ivy's")
    ann, ben = make_invite(own, "Ann"), make_invite(own, "Ben")
    submit(ann, version, fixture_files(version, UNUSUAL_CALC))
    submit(ben, version, fixture_files(version, UNUSUAL_CALC))
    log_in(client, staff.interviewer)

    response = client.get(f"/review/invites/{ann.id}")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'id="similarity-title"' in html
    assert f'href="/review/invites/{ben.id}">Ben</a>' in html
