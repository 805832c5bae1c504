"""The candidate's session events: POST /api/v1/invites/<token>/challenges/<slug>/events and
their storage (app/services/replay.py). Every refusal names the bad event and stores nothing;
retries are idempotent; gaps are recorded and filled; the per-attempt cap and rate limit hold."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import func, select

from app import create_app
from app.extensions import db, limiter
from app.models import Invite, ReplayEvent, Submission, utcnow
from app.services.replay import epoch_ms

from ..conftest import FIXTURE_CHALLENGES

SLUG = "trivial-sum"
FILE = "calc.py"
SESSION = "page-load-0001"
REDIS_URL = "redis://127.0.0.1:6379/15"


def _url(invite, slug=SLUG) -> str:
    return f"/api/v1/invites/{invite.token}/challenges/{slug}/events"


@pytest.fixture
def started(client, invite):
    assert client.post(f"/api/v1/invites/{invite.token}/start").status_code == 200
    return invite


def now_ms() -> int:
    return epoch_ms(utcnow())


def ev(seq, kind="focus", *, t=None, file=None, data=None):
    event = {"seq": seq, "t": now_ms() if t is None else t, "kind": kind}
    if file is not None:
        event["file"] = file
    if data is not None:
        event["data"] = data
    return event


def send(client, invite, events, *, session=SESSION, slug=SLUG):
    return client.post(_url(invite, slug), json={"session": session, "events": events})


def stored_rows(invite=None) -> list[tuple]:
    query = select(ReplayEvent.session, ReplayEvent.seq, ReplayEvent.kind, ReplayEvent.data)
    if invite is not None:
        query = query.where(ReplayEvent.invite_id == invite.id)
    return [tuple(row) for row in db.session.execute(query.order_by(ReplayEvent.id))]


def gaps(invite) -> list[dict]:
    query = select(ReplayEvent.data).where(
        ReplayEvent.invite_id == invite.id, ReplayEvent.kind == "gap"
    )
    return sorted(db.session.scalars(query), key=lambda d: d["from_seq"])


def _starter(invite) -> str:
    return invite.assessment.items[0].challenge.payload["starter"][FILE]


# ---- storing ----------------------------------------------------------------------------------


def test_a_batch_is_stored_in_order_and_answered_with_the_next_seq(client, started):
    text = _starter(started)
    length = len(text.encode("utf-16-le")) // 2
    events = [
        ev(1, "snapshot", file=FILE, data={"text": text}),
        ev(
            2, "change", file=FILE, data={"changes": [0, [0, "# hi", ""], length], "origin": "type"}
        ),
        ev(3, "file", file=FILE),
        ev(4, "blur"),
    ]
    response = send(client, started, events)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "stored": 4,
        "duplicates": 0,
        "next_seq": 5,
        "text_capped": False,
    }
    rows = stored_rows(started)
    assert [(s, q, k) for s, q, k, _ in rows] == [
        (SESSION, 1, "snapshot"),
        (SESSION, 2, "change"),
        (SESSION, 3, "file"),
        (SESSION, 4, "blur"),
    ]
    assert rows[1][3]["changes"] == [0, [0, "# hi", ""], length]


def test_a_retried_batch_is_idempotent_and_keeps_the_first_copy(client, started):
    first = [ev(1, "focus"), ev(2, "blur")]
    assert send(client, started, first).status_code == 200
    retried = send(client, started, [ev(1, "blur"), ev(2, "blur"), ev(3, "focus")])
    assert retried.status_code == 200
    assert retried.get_json() == {"stored": 1, "duplicates": 2, "next_seq": 4, "text_capped": False}
    assert [(q, k) for _, q, k, _ in stored_rows(started)] == [
        (1, "focus"),
        (2, "blur"),
        (3, "focus"),
    ]
    again = send(client, started, first)
    assert again.get_json()["duplicates"] == 2 and len(stored_rows(started)) == 3


def test_two_sessions_number_their_events_apart(client, started):
    assert send(client, started, [ev(1), ev(2)]).status_code == 200
    other = send(client, started, [ev(1), ev(2)], session="second-tab-02")
    assert other.get_json()["stored"] == 2
    assert len(stored_rows(started)) == 4


def test_missing_events_are_recorded_as_a_gap_and_the_gap_shrinks_as_they_arrive(client, started):
    assert send(client, started, [ev(1), ev(2)]).status_code == 200
    jumped = send(client, started, [ev(6), ev(7)])
    assert jumped.get_json()["next_seq"] == 8
    assert gaps(started) == [{"from_seq": 3, "to_seq": 5}]
    kinds = [(q, k) for _, q, k, _ in stored_rows(started)]
    assert kinds == [(1, "focus"), (2, "focus"), (None, "gap"), (6, "focus"), (7, "focus")]

    assert send(client, started, [ev(4)]).get_json() == {
        "stored": 1,
        "duplicates": 0,
        "next_seq": 8,
        "text_capped": False,
    }
    assert gaps(started) == [{"from_seq": 3, "to_seq": 3}, {"from_seq": 5, "to_seq": 5}]
    assert send(client, started, [ev(3), ev(5)]).status_code == 200
    assert gaps(started) == []
    assert sorted(q for _, q, _, _ in stored_rows(started)) == [1, 2, 3, 4, 5, 6, 7]


def test_a_session_whose_first_events_never_arrived_starts_with_a_gap(client, started):
    assert send(client, started, [ev(3)]).status_code == 200
    assert gaps(started) == [{"from_seq": 1, "to_seq": 2}]


def test_a_gap_inside_one_batch_is_recorded_too(client, started):
    assert send(client, started, [ev(1), ev(4)]).status_code == 200
    assert gaps(started) == [{"from_seq": 2, "to_seq": 3}]


# ---- refusals ---------------------------------------------------------------------------------


def _change(data_changes, origin="type", **extra):
    return {"changes": data_changes, "origin": origin, **extra}


BAD_BATCHES = [
    ("not an object", [], 400, "JSON object"),
    (
        "bad session",
        {"session": "a b", "events": [{"seq": 1, "t": 0, "kind": "focus"}]},
        400,
        "session",
    ),
    ("no events", {"session": SESSION, "events": []}, 400, "at least one"),
    ("unknown top field", {"session": SESSION, "events": [], "x": 1}, 400, "x: unknown field"),
]


@pytest.mark.parametrize(
    ("body", "status", "says"), [case[1:] for case in BAD_BATCHES], ids=[c[0] for c in BAD_BATCHES]
)
def test_a_malformed_body_is_refused(client, started, body, status, says):
    response = client.post(_url(started), json=body)
    assert response.status_code == status
    assert says in response.get_json()["error"]
    assert stored_rows() == []


def test_a_body_that_is_not_json_is_refused(client, started):
    response = client.post(_url(started), data=b"{oops", content_type="application/json")
    assert response.status_code == 400 and "not valid JSON" in response.get_json()["error"]


# -> (events, status, what the error names): event 0 is always fine, so the error names event 1.
BAD_EVENTS = {
    "unknown kind": lambda: (
        [ev(1), {"seq": 2, "t": 0, "kind": "keypress"}],
        400,
        "events[1].kind",
    ),
    "missing t": lambda: ([ev(1), {"seq": 2, "kind": "focus"}], 400, "events[1].t"),
    "t not whole": lambda: ([ev(1), {"seq": 2, "t": 1.5, "kind": "focus"}], 400, "events[1].t"),
    "seq a string": lambda: ([ev(1), {"seq": "2", "t": 0, "kind": "focus"}], 400, "events[1].seq"),
    "seq repeated": lambda: ([ev(1), ev(1)], 400, "events[1].seq: 1 after 1"),
    "seq going down": lambda: ([ev(5), ev(4)], 400, "events[1].seq"),
    "unknown field": lambda: ([ev(1), {**ev(2), "extra": 1}], 400, "events[1].extra"),
    "a focus with a file": lambda: ([ev(1), ev(2, "focus", file=FILE)], 400, "events[1].file"),
    "a change with no file": lambda: (
        [ev(1), ev(2, "change", data=_change([0]))],
        400,
        "events[1].file",
    ),
    "a change with no origin": lambda: (
        [ev(1), ev(2, "change", file=FILE, data={"changes": [0]})],
        400,
        "events[1].data.origin",
    ),
    "a ChangeSet with a bad part": lambda: (
        [ev(1), ev(2, "change", file=FILE, data=_change([3, ["x"]]))],
        400,
        "events[1].data.changes[1]",
    ),
    "a paste without its size and source": lambda: (
        [ev(1), ev(2, "change", file=FILE, data=_change([[0, "x"]], "paste"))],
        400,
        "events[1].data.paste",
    ),
    "a paste source that is neither": lambda: (
        [
            ev(1),
            ev(
                2,
                "change",
                file=FILE,
                data=_change([[0, "x"]], "paste", paste={"size": 1, "source": "web"}),
            ),
        ],
        400,
        "events[1].data.paste.source",
    ),
    "a snapshot without text": lambda: (
        [ev(1), ev(2, "snapshot", file=FILE, data={})],
        400,
        "events[1].data.text",
    ),
    "a run naming nothing": lambda: ([ev(1), ev(2, "run", data={})], 400, "events[1].data"),
    "a result without counts": lambda: (
        [ev(1), ev(2, "result", data={"submission_id": 1, "mode": "run", "status": "graded"})],
        400,
        "events[1].data",
    ),
    "a file not of the challenge": lambda: (
        [ev(1), ev(2, "file", file="secret.py")],
        422,
        "events[1].file",
    ),
    "a change of a file not of the challenge": lambda: (
        [ev(1), ev(2, "change", file="../etc/passwd", data=_change([[0, "x"]]))],
        422,
        "events[1].file",
    ),
    "t far in the future": lambda: ([ev(1), ev(2, t=now_ms() + 5 * 60_000)], 422, "events[1].t"),
    "t long before the start": lambda: (
        [ev(1), ev(2, t=now_ms() - 10 * 60_000)],
        422,
        "events[1].t",
    ),
    "t going back more than 2 s": lambda: (
        [ev(1), ev(2, t=now_ms() - 5_000)],
        422,
        "events[1].t: goes back",
    ),
    "a run naming another attempt's submission": lambda: (
        [ev(1), ev(2, "run", data={"submission_id": 999_999})],
        422,
        "events[1].data.submission_id",
    ),
}


@pytest.mark.parametrize("case", list(BAD_EVENTS))
def test_a_bad_event_is_refused_naming_it_and_nothing_of_the_batch_is_stored(client, started, case):
    events, status, names = BAD_EVENTS[case]()  # made now: the times are relative to now
    assert (
        send(
            client, started, [ev(1, "blur", t=now_ms() - 1000)], session="earlier-page"
        ).status_code
        == 200
    )
    before = stored_rows()
    response = send(client, started, events)
    assert response.status_code == status, response.get_json()
    assert response.is_json and names in response.get_json()["error"]
    assert stored_rows() == before


def test_a_lone_surrogate_is_refused_as_not_unicode(client, started):
    event = (
        '{"seq": 1, "t": %d, "kind": "snapshot", "file": "calc.py", "data": {"text": "\\ud800"}}'
    )
    body = f'{{"session": "{SESSION}", "events": [{event % now_ms()}]}}'
    response = client.post(_url(started), data=body, content_type="application/json")
    assert response.status_code == 400 and "events[0].data" in response.get_json()["error"]
    assert stored_rows() == []


def test_a_change_of_a_read_only_file_is_refused(client, started):
    version = started.assessment.items[0].challenge
    payload = json.loads(json.dumps(version.payload))
    payload["spec"]["files"].append({"path": "models.py", "editable": False, "open": False})
    payload["starter"]["models.py"] = "class Item: ...\n"
    version.payload = payload
    db.session.commit()
    assert (
        send(client, started, [ev(1, "file", file="models.py")]).status_code == 200
    )  # viewing is fine
    for kind, data in [("change", _change([[0, "x"], 16])), ("snapshot", {"text": "x"})]:
        response = send(client, started, [ev(2, kind, file="models.py", data=data)])
        assert response.status_code == 422
        assert "events[0].file" in response.get_json()["error"]
        assert "read-only" in response.get_json()["error"]
    assert len(stored_rows()) == 1


def test_more_than_500_events_is_malformed_and_more_than_256_kib_is_too_large(client, started):
    many = send(client, started, [ev(n) for n in range(1, 502)])
    assert many.status_code == 400 and "at most 500" in many.get_json()["error"]
    huge = ev(1, "snapshot", file=FILE, data={"text": "#" * (300 * 1024)})
    big = send(client, started, [huge])
    assert big.status_code == 413 and "at most 262,144" in big.get_json()["error"]
    assert stored_rows() == []


def test_another_invites_token_or_a_challenge_not_in_the_assessment_is_not_found(client, started):
    assert send(client, started, [ev(1)], slug="order-counts-n-plus-one").status_code == 404
    response = client.post(
        "/api/v1/invites/not-a-token/challenges/trivial-sum/events",
        json={"session": SESSION, "events": [ev(1)]},
    )
    assert response.status_code == 404 and response.is_json
    assert stored_rows() == []


def test_a_submission_of_another_invite_cannot_be_named(client, started):
    other = Invite(
        assessment=started.assessment, candidate_name="Other", state="started", started_at=utcnow()
    )
    theirs = Submission(
        invite=other, challenge=started.assessment.items[0].challenge, mode="run", files={}
    )
    db.session.add_all([other, theirs])
    db.session.commit()
    for kind in ("run", "submit"):
        response = send(client, started, [ev(1, kind, data={"submission_id": theirs.id})])
        assert response.status_code == 422
        assert (
            "not a run or submission of this challenge in this attempt"
            in response.get_json()["error"]
        )
    assert stored_rows() == []


def test_a_run_event_must_name_a_run_and_a_submit_a_submission(client, started):
    mine = Submission(
        invite=started, challenge=started.assessment.items[0].challenge, mode="run", files={}
    )
    db.session.add(mine)
    db.session.commit()
    wrong = send(client, started, [ev(1, "submit", data={"submission_id": mine.id})])
    assert wrong.status_code == 422 and "is a run, not a submit" in wrong.get_json()["error"]
    right = send(client, started, [ev(1, "run", data={"submission_id": mine.id})])
    assert right.status_code == 200


def test_before_the_start_events_are_refused_with_409(client, invite):
    response = send(client, invite, [ev(1)])
    assert (
        response.status_code == 409 and "Start the assessment first" in response.get_json()["error"]
    )


# ---- after the end: the 30 s grace ------------------------------------------------------------


def _finish(client, invite, seconds_ago: float):
    assert client.post(f"/api/v1/invites/{invite.token}/finish").status_code == 200
    invite.finished_at = utcnow() - timedelta(seconds=seconds_ago)
    db.session.commit()
    return epoch_ms(invite.finished_at)


def test_events_made_before_the_end_are_accepted_for_30_seconds_after_it(client, started):
    end = _finish(client, started, seconds_ago=10)
    response = send(client, started, [ev(1, t=end - 3000), ev(2, t=end + 1500)])
    assert response.status_code == 200 and response.get_json()["stored"] == 2


def test_during_the_grace_an_event_made_after_the_end_is_refused(client, started):
    end = _finish(client, started, seconds_ago=10)
    response = send(client, started, [ev(1, t=end - 1000), ev(2, t=end + 5000)])
    assert response.status_code == 403
    assert "events[1].t" in response.get_json()["error"]
    assert stored_rows() == []


def test_after_the_grace_nothing_is_accepted(client, started):
    end = _finish(client, started, seconds_ago=40)
    response = send(client, started, [ev(1, t=end - 1000)])
    assert response.status_code == 403 and "has ended" in response.get_json()["error"]
    assert stored_rows() == []


def test_when_the_time_ran_out_the_grace_counts_from_the_deadline(client, started):
    limit = timedelta(minutes=started.assessment.time_limit_minutes)
    started.started_at = utcnow() - limit - timedelta(seconds=5)  # deadline 5 s ago
    db.session.commit()
    deadline = epoch_ms(started.deadline)
    assert send(client, started, [ev(1, t=deadline - 500)]).status_code == 200
    started.started_at -= timedelta(seconds=60)
    db.session.commit()
    assert send(client, started, [ev(2, t=deadline - 500)]).status_code == 403


# ---- the cap ----------------------------------------------------------------------------------


def test_past_the_cap_text_is_dropped_but_markers_are_kept_and_the_answer_says_so(
    web_app, client, started
):
    web_app.config["REPLAY_MAX_BYTES_PER_ATTEMPT"] = 600
    text = _starter(started)
    length = len(text.encode("utf-16-le")) // 2
    first = send(client, started, [ev(1, "snapshot", file=FILE, data={"text": text})])
    assert first.get_json()["text_capped"] is False
    paste = _change([0, [0, "x" * 400], length], "paste", paste={"size": 400, "source": "outside"})
    response = send(client, started, [ev(2, "change", file=FILE, data=paste), ev(3, "blur")])
    assert response.status_code == 200
    assert response.get_json() == {"stored": 2, "duplicates": 0, "next_seq": 4, "text_capped": True}
    rows = stored_rows(started)
    assert rows[0][3] == {"text": text}
    assert rows[1][3] == {
        "origin": "paste",
        "paste": {"size": 400, "source": "outside"},
        "text_dropped": True,
        "removed": 0,
        "inserted": 400,
    }
    assert rows[2][2] == "blur"
    later = send(
        client, started, [ev(4, "snapshot", file=FILE, data={"text": "y"}), ev(5, "focus")]
    )
    assert later.get_json()["text_capped"] is True
    assert stored_rows(started)[3][3] == {"text_dropped": True, "length": 1}
    assert stored_rows(started)[4][2] == "focus"


def test_the_cap_is_per_attempt_all_challenges_together(web_app, client, started):
    from app.models import AssessmentItem, ChallengeVersion

    first = started.assessment.items[0].challenge
    second = ChallengeVersion(
        slug="second-sum",
        version=1,
        content_hash="second-" + first.content_hash[:50],
        title="Second",
        summary="s",
        difficulty="easy",
        time_limit_minutes=5,
        payload=first.payload,
        status="published",
    )
    db.session.add(AssessmentItem(assessment=started.assessment, challenge=second, position=1))
    db.session.commit()
    text = _starter(started)
    snapshot = ev(1, "snapshot", file=FILE, data={"text": text})
    web_app.config["REPLAY_MAX_BYTES_PER_ATTEMPT"] = len(json.dumps(snapshot)) + 100
    assert send(client, started, [snapshot]).get_json()["text_capped"] is False
    again = send(client, started, [snapshot, ev(2)], slug="second-sum").get_json()
    assert again["text_capped"] is True
    rows = db.session.scalars(
        select(ReplayEvent.data).where(ReplayEvent.challenge_version_id == second.id)
    )
    assert list(rows) == [{"text_dropped": True, "length": len(text)}, {}]


def test_the_cap_counts_the_events_as_received(client, started):
    snapshot = ev(1, "snapshot", file=FILE, data={"text": "é\n" + _starter(started)})
    send(client, started, [snapshot])
    total = db.session.scalar(select(func.sum(ReplayEvent.size)))
    assert total == len(json.dumps(snapshot, ensure_ascii=False, separators=(",", ":")).encode())


# ---- rate limit and CSRF ----------------------------------------------------------------------


@pytest.fixture
def build_app(database_url):
    """A full app on the test database with some settings changed, no app context left pushed
    (as test_auth.py's), and the demo invite started."""
    built = []

    def build(**overrides):
        from app.services.demo import ensure_demo
        from app.services.library import sync_library

        limiter._key_prefix = ""  # Flask-Limiter keeps the first prefix on the shared extension
        app = create_app(
            {
                "TESTING": True,
                "SQLALCHEMY_DATABASE_URI": database_url,
                "REDIS_URL": REDIS_URL,
                "CHALLENGES_DIR": FIXTURE_CHALLENGES,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                **overrides,
            }
        )
        with app.app_context():
            db.create_all()
            sync_library(app.config["CHALLENGES_DIR"])
            invite = ensure_demo()
            invite.state, invite.started_at = "started", utcnow()
            other = Invite(
                assessment=invite.assessment,
                candidate_name="Other",
                state="started",
                started_at=utcnow(),
            )
            db.session.add(other)
            db.session.commit()
            tokens = (invite.token, other.token)
        built.append(app)
        return app, tokens

    yield build
    for app in built:
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()
    limiter._key_prefix = ""


@pytest.fixture
def rate_limit_prefix():
    prefix = f"test-replay-{uuid.uuid4().hex[:10]}"
    yield prefix
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(match=f"*{prefix}*"))
    if keys:
        connection.delete(*keys)


def test_too_many_batches_for_one_attempt_get_a_json_429_with_retry_after(
    build_app, rate_limit_prefix
):
    app, (token, other_token) = build_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS_URL,
        RATELIMIT_KEY_PREFIX=rate_limit_prefix,
        REPLAY_RATE_LIMIT="3 per minute",
    )
    client = app.test_client()
    url = f"/api/v1/invites/{token}/challenges/{SLUG}/events"
    statuses = [
        client.post(url, json={"session": SESSION, "events": [ev(n)]}).status_code
        for n in range(1, 5)
    ]
    assert statuses == [200, 200, 200, 429]
    refused = client.post(url, json={"session": SESSION, "events": [ev(9)]})
    assert refused.status_code == 429 and refused.is_json
    assert "Too many batches" in refused.get_json()["error"]
    assert int(refused.headers["Retry-After"]) > 0
    other = f"/api/v1/invites/{other_token}/challenges/{SLUG}/events"  # another attempt: its own
    assert client.post(other, json={"session": SESSION, "events": [ev(1)]}).status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count(ReplayEvent.id))) == 4


def test_without_the_csrf_header_a_batch_is_refused(build_app):
    app, (token, _) = build_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post(
        f"/api/v1/invites/{token}/challenges/{SLUG}/events",
        json={"session": SESSION, "events": [ev(1)]},
    )
    assert response.status_code == 400 and response.is_json
    with app.app_context():
        assert db.session.scalar(select(func.count(ReplayEvent.id))) == 0
