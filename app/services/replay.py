"""Session replay: the candidate's editor session, recorded as events, stored append-only,
replayed to the text of every file at any moment, checked against the code that was graded,
and summed up as signals for interviewers.

The page records events per page load (a "session", a random id) and numbers them 1, 2, 3...
(``seq``); docs/api.md documents the event format and the endpoint, docs/interviewers.md what
the review makes of it.

Two halves:

- pure functions over plain lists and dicts (``validate_batch`` aside, which only reads the
  invite's times): ``order_events``, ``apply_changes``, ``replay``, ``integrity``, ``signals``.
  An event there is a dict ``{"id", "session", "seq", "t", "kind", "file", "data"}`` (``id``:
  storage order; a ``gap`` row has ``seq`` None); a submission is a dict ``{"id", "number",
  "mode", "files", "created_ms", "at_timeout", "status", "passed", "total"}``.
- database functions: ``store_batch`` (the candidate endpoint), ``load_events``,
  ``analyse_attempt`` and ``replay_json`` (the staff endpoint and the export).

Lengths and positions in a ChangeSet are UTF-16 code units, as in the browser: the replay works
on ``text.encode("utf-16-le")``, two bytes a unit, so a character outside the BMP (an emoji)
counts 2 as it does in CodeMirror.
"""

from __future__ import annotations

import difflib
import heapq
import json
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import (
    ChallengeVersion,
    Invite,
    InviteState,
    ReplayEvent,
    Submission,
    SubmissionMode,
    SubmissionStatus,
    utcnow,
)
from app.services.candidates import Refused
from app.services.numbering import numbers_of

# ---- the limits (docs/api.md) -----------------------------------------------------------------

MAX_BATCH_BYTES = 256 * 1024  # one request's body
MAX_BATCH_EVENTS = 500
MAX_ATTEMPT_BYTES = 5 * 1024 * 1024  # events as received, per attempt (all challenges together)
GRACE_MS = 30_000  # after the attempt's end, for events made before it
END_TOLERANCE_MS = 2_000  # how far past the end an event's `t` may be during the grace
CLOCK_TOLERANCE_MS = 60_000  # `t` within [started_at - this, server now + this]
BACKWARDS_TOLERANCE_MS = 2_000  # `t` may go back this much within a batch (clock adjustments)
MAX_SEQ = 2**31 - 1
MAX_ID = 2**31 - 1
SESSION = re.compile(r"[A-Za-z0-9_-]{8,40}")

KINDS = (
    "snapshot",
    "change",
    "file",
    "focus",
    "blur",
    "visible",
    "hidden",
    "run",
    "submit",
    "result",
)
GAP = "gap"  # stored by the server, never sent
ORIGINS = ("type", "paste", "drop", "undo", "redo", "reset", "other")
PASTE_ORIGINS = ("paste", "drop")
PASTE_SOURCES = ("inside", "outside")
TEXT_KINDS = ("snapshot", "change")  # on an editable file; their text is what the cap drops
NO_FILE_KINDS = ("focus", "blur", "visible", "hidden", "run", "submit", "result")
RESULT_STATUSES = tuple(status.value for status in SubmissionStatus)
EVENT_FIELDS = {"seq", "t", "kind", "file", "data"}


def _max_attempt_bytes() -> int:
    return int(current_app.config.get("REPLAY_MAX_BYTES_PER_ATTEMPT", MAX_ATTEMPT_BYTES))


# ---- validating a batch -----------------------------------------------------------------------


@dataclass
class Incoming:
    """One validated event of a batch."""

    index: int
    seq: int
    t: int
    kind: str
    file: str | None
    data: dict[str, Any]
    size: int


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _bad(status: int, index: int | None, where: str, message: str) -> Refused:
    place = f"events[{index}].{where}" if index is not None else where
    return Refused(status, f"{place}: {message}")


def parse_batch(body: bytes) -> tuple[str, list[Any]]:
    """The session id and the raw events of a request body, or Refused (400 malformed, 413 too
    large). Nothing is checked against the attempt here."""
    if len(body) > MAX_BATCH_BYTES:
        raise Refused(
            413,
            f"The batch is {len(body):,} bytes; send at most {MAX_BATCH_BYTES:,} "
            "(split the events into smaller batches).",
        )
    try:
        parsed = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise Refused(400, "The body is not UTF-8 text.") from None
    except RecursionError:
        raise Refused(400, "The JSON is nested too deeply.") from None
    except ValueError as problem:
        raise Refused(400, f"The body is not valid JSON ({problem}).") from None
    if not isinstance(parsed, dict):
        raise Refused(400, 'Send a JSON object: {"session": "...", "events": [...]}.')
    unknown = sorted(set(parsed) - {"session", "events"})
    if unknown:
        raise Refused(400, f"{unknown[0]}: unknown field (send only session and events)")
    session = parsed.get("session")
    if not isinstance(session, str) or not SESSION.fullmatch(session):
        raise Refused(400, "session: must be 8 to 40 characters of A-Z, a-z, 0-9, _ and -")
    events = parsed.get("events")
    if not isinstance(events, list):
        raise Refused(400, "events: must be a list of events")
    if not events:
        raise Refused(400, "events: send at least one event")
    if len(events) > MAX_BATCH_EVENTS:
        raise Refused(
            400, f"events: {len(events)} events in one batch; send at most {MAX_BATCH_EVENTS}"
        )
    return session, events


def check_shapes(events: list[Any]) -> list[Incoming]:
    """Each event's fields and types (400 on the first bad one, naming its index and field);
    ``seq`` strictly increasing within the batch."""
    checked: list[Incoming] = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise Refused(400, f"events[{index}]: must be an object")
        unknown = sorted(set(event) - EVENT_FIELDS)
        if unknown:
            raise _bad(400, index, unknown[0], "unknown field")
        seq, t, kind = event.get("seq"), event.get("t"), event.get("kind")
        if not _is_int(seq) or not 1 <= seq <= MAX_SEQ:
            raise _bad(400, index, "seq", f"must be a whole number from 1 to {MAX_SEQ}")
        if checked and seq <= checked[-1].seq:
            raise _bad(
                400,
                index,
                "seq",
                f"{seq} after {checked[-1].seq}: seq must increase within a batch",
            )
        if not _is_int(t):
            raise _bad(400, index, "t", "must be a whole number of milliseconds since 1970")
        if kind not in KINDS:
            raise _bad(400, index, "kind", f"must be one of {', '.join(KINDS)}")
        file = event.get("file")
        if kind in NO_FILE_KINDS:
            if file is not None:
                raise _bad(400, index, "file", f"a {kind} event has no file")
        elif not isinstance(file, str) or not file:
            raise _bad(400, index, "file", f"a {kind} event needs the file's path")
        data = _checked_data(index, kind, event.get("data"))
        try:
            size = len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        except UnicodeEncodeError:
            raise _bad(
                400, index, "data", "holds a lone UTF-16 surrogate: not valid Unicode text"
            ) from None
        checked.append(Incoming(index, seq, t, kind, file, data, size))
    return checked


def _only(index: int, data: dict, allowed: Iterable[str]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise _bad(400, index, f"data.{unknown[0]}", "unknown field")


def _checked_data(index: int, kind: str, data: object) -> dict[str, Any]:
    if kind in ("file", "focus", "blur", "visible", "hidden"):
        if data not in (None, {}):
            raise _bad(400, index, "data", f"a {kind} event has no data")
        return {}
    if not isinstance(data, dict):
        raise _bad(400, index, "data", "must be an object")
    if kind == "snapshot":
        _only(index, data, ["text"])
        if not isinstance(data.get("text"), str):
            raise _bad(400, index, "data.text", "must be the file's full text")
        return data
    if kind == "change":
        _only(index, data, ["changes", "origin", "paste"])
        _check_changes(index, data.get("changes"))
        origin = data.get("origin")
        if origin not in ORIGINS:
            raise _bad(400, index, "data.origin", f"must be one of {', '.join(ORIGINS)}")
        paste = data.get("paste")
        if origin in PASTE_ORIGINS:
            if not isinstance(paste, dict):
                raise _bad(400, index, "data.paste", f"a {origin} needs {{size, source}}")
            unknown = sorted(set(paste) - {"size", "source"})
            if unknown:
                raise _bad(400, index, f"data.paste.{unknown[0]}", "unknown field")
            if not _is_int(paste.get("size")) or paste["size"] < 0:
                raise _bad(400, index, "data.paste.size", "must be a whole number of 0 or more")
            if paste.get("source") not in PASTE_SOURCES:
                raise _bad(400, index, "data.paste.source", "must be inside or outside")
        elif paste is not None:
            raise _bad(400, index, "data.paste", f"only a paste or drop has one, not {origin}")
        return data
    if kind in ("run", "submit"):
        _only(index, data, ["submission_id", "refused"])
        if ("submission_id" in data) == ("refused" in data):
            raise _bad(400, index, "data", "must hold either submission_id or refused")
        if "refused" in data and not isinstance(data["refused"], str):
            raise _bad(400, index, "data.refused", "must be the refusal's message")
        if "submission_id" in data:
            _check_id(index, data["submission_id"])
        return data
    # result
    _only(index, data, ["submission_id", "mode", "status", "score", "max_score", "passed", "total"])
    _check_id(index, data.get("submission_id"))
    if data.get("mode") not in ("run", "submit"):
        raise _bad(400, index, "data.mode", "must be run or submit")
    if data.get("status") not in RESULT_STATUSES:
        raise _bad(400, index, "data.status", f"must be one of {', '.join(RESULT_STATUSES)}")
    for name in ("score", "max_score"):
        if name not in data or not (data[name] is None or _is_int(data[name])):
            raise _bad(400, index, f"data.{name}", "must be a whole number or null")
    for name in ("passed", "total"):
        if not _is_int(data.get(name)) or data[name] < 0:
            raise _bad(400, index, f"data.{name}", "must be a whole number of 0 or more")
    if data["passed"] > data["total"]:
        raise _bad(400, index, "data.passed", "is more than total")
    return data


def _check_id(index: int, value: object) -> None:
    if not _is_int(value) or not 1 <= value <= MAX_ID:
        raise _bad(400, index, "data.submission_id", "must be a submission's id")


def _check_changes(index: int, changes: object) -> None:
    """CodeMirror 6's ChangeSet.toJSON(): numbers (kept lengths) and lists [removed, *lines]."""
    if not isinstance(changes, list):
        raise _bad(400, index, "data.changes", "must be a ChangeSet's JSON (a list)")
    for j, part in enumerate(changes):
        if _is_int(part):
            if part < 0:
                raise _bad(400, index, f"data.changes[{j}]", "a kept length cannot be negative")
            continue
        if (
            isinstance(part, list)
            and part
            and _is_int(part[0])
            and part[0] >= 0
            and all(isinstance(line, str) for line in part[1:])
        ):
            continue
        raise _bad(
            400,
            index,
            f"data.changes[{j}]",
            "must be a kept length or [removed length, inserted lines...]",
        )


def epoch_ms(moment: datetime) -> int:
    """A naive UTC datetime (as the database stores them) in milliseconds since 1970."""
    return round(moment.replace(tzinfo=UTC).timestamp() * 1000)


def iso_of_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def attempt_end(invite: Invite) -> datetime | None:
    """When the attempt stopped accepting work: the deadline, or an earlier Finish."""
    deadline = invite.deadline
    if invite.finished_at is not None and deadline is not None and not invite.timed_out:
        return min(invite.finished_at, deadline)
    return deadline


def check_attempt(invite: Invite, events: list[Incoming] | None, now: datetime) -> None:
    """409 before the start; 403 once the attempt has ended, except during the grace after the
    end for events made before it (``events`` None: only what the body need not be read for)."""
    if invite.state == InviteState.PENDING or invite.started_at is None:
        raise Refused(409, "Start the assessment first.")
    end = attempt_end(invite)
    started = invite.state == InviteState.STARTED and not invite.timed_out
    if (started and invite.is_open(now)) or end is None:
        return
    end_ms, now_ms = epoch_ms(end), epoch_ms(now)
    if now_ms > end_ms + GRACE_MS:
        raise Refused(
            403,
            "This attempt has ended: events are accepted for 30 s after its end, and that time "
            "has passed.",
        )
    for event in events or []:
        if event.t > end_ms + END_TOLERANCE_MS:
            raise _bad(
                403, event.index, "t", "is after the attempt ended: nothing after its end is kept"
            )


def check_against_attempt(
    invite: Invite,
    version: ChallengeVersion,
    events: list[Incoming],
    now: datetime,
    own_submissions: dict[int, str],
) -> None:
    """422: the files, the times and the submissions the events name must be this attempt's.
    ``own_submissions``: id -> mode of the candidate's runs and submissions of ``version``."""
    entries = {entry["path"]: bool(entry.get("editable")) for entry in version.spec["files"]}
    assert invite.started_at is not None
    low = epoch_ms(invite.started_at) - CLOCK_TOLERANCE_MS
    high = epoch_ms(now) + CLOCK_TOLERANCE_MS
    latest: int | None = None
    for event in events:
        if event.file is not None:
            if event.file not in entries:
                raise _bad(
                    422, event.index, "file", f"{event.file!r} is not a file of this challenge"
                )
            if event.kind in TEXT_KINDS and not entries[event.file]:
                raise _bad(
                    422, event.index, "file", f"{event.file!r} is read-only: it cannot change"
                )
        if not low <= event.t <= high:
            raise _bad(
                422,
                event.index,
                "t",
                f"{event.t} is outside this attempt's time (from a minute before its start to a "
                "minute after the server's now): is the computer's clock right?",
            )
        if latest is not None and event.t < latest - BACKWARDS_TOLERANCE_MS:
            raise _bad(
                422,
                event.index,
                "t",
                f"goes back {latest - event.t} ms within the batch (at most "
                f"{BACKWARDS_TOLERANCE_MS} ms)",
            )
        latest = event.t if latest is None else max(latest, event.t)
        submission_id = event.data.get("submission_id")
        if submission_id is not None:
            mode = own_submissions.get(submission_id)
            expected = event.data["mode"] if event.kind == "result" else event.kind
            if mode is None:
                raise _bad(
                    422,
                    event.index,
                    "data.submission_id",
                    f"{submission_id} is not a run or submission of this challenge in this attempt",
                )
            if mode != expected:
                raise _bad(
                    422,
                    event.index,
                    "data.submission_id",
                    f"{submission_id} is a {mode}, not a {expected}",
                )


# ---- storing a batch --------------------------------------------------------------------------


def store_batch(
    invite: Invite, version: ChallengeVersion, body: bytes, now: datetime | None = None
) -> dict[str, Any]:
    """Validate and store one batch of events for ``invite`` and ``version`` (a challenge of
    its assessment). Refused (with nothing stored) on any bad event; see docs/api.md.
    Answers ``{"stored", "duplicates", "next_seq", "text_capped"}``."""
    now = now or utcnow()
    check_attempt(invite, None, now)
    session, raw = parse_batch(body)
    events = check_shapes(raw)
    check_attempt(invite, events, now)
    wanted = {e.data["submission_id"] for e in events if "submission_id" in e.data}
    own: dict[int, str] = {}
    if wanted:
        query = select(Submission.id, Submission.mode).where(
            Submission.id.in_(wanted), *Submission.of_candidate(invite.id, version.id)
        )
        own = {submission_id: mode for submission_id, mode in db.session.execute(query)}
    check_against_attempt(invite, version, events, now, own)
    for _ in range(3):
        try:
            return _store(invite, version, session, events)
        except IntegrityError:  # another request of this session stored the same seq just now
            db.session.rollback()
    raise Refused(
        409, "Another batch of this session was being stored at the same moment; send it again."
    )


def _store(
    invite: Invite, version: ChallengeVersion, session: str, events: list[Incoming]
) -> dict[str, Any]:
    # One attempt's batches one at a time (PostgreSQL): the cap and the gaps stay exact.
    db.session.execute(select(Invite.id).where(Invite.id == invite.id).with_for_update())
    of_session = (
        ReplayEvent.invite_id == invite.id,
        ReplayEvent.challenge_version_id == version.id,
        ReplayEvent.session == session,
    )
    seqs = [event.seq for event in events]
    stored = set(
        db.session.scalars(select(ReplayEvent.seq).where(*of_session, ReplayEvent.seq.in_(seqs)))
    )
    gaps = list(db.session.scalars(select(ReplayEvent).where(*of_session, ReplayEvent.kind == GAP)))
    last = max(
        [
            db.session.scalar(select(func.max(ReplayEvent.seq)).where(*of_session)) or 0,
            *(gap.data["to_seq"] for gap in gaps),
        ]
    )
    used = (
        db.session.scalar(
            select(func.coalesce(func.sum(ReplayEvent.size), 0)).where(
                ReplayEvent.invite_id == invite.id
            )
        )
        or 0
    )
    cap = _max_attempt_bytes()
    new = [event for event in events if event.seq not in stored]
    for event in new:
        if event.seq <= last:
            _fill(gaps, event.seq)
        elif event.seq > last + 1:
            gap = ReplayEvent(
                invite_id=invite.id,
                challenge_version_id=version.id,
                session=session,
                seq=None,
                t=event.t,
                kind=GAP,
                file=None,
                data={"from_seq": last + 1, "to_seq": event.seq - 1},
                size=0,
            )
            db.session.add(gap)
            gaps.append(gap)
        last = max(last, event.seq)
        data = event.data
        if event.kind in TEXT_KINDS and used + event.size > cap:
            data = without_text(event.kind, data)
        used += event.size
        db.session.add(
            ReplayEvent(
                invite_id=invite.id,
                challenge_version_id=version.id,
                session=session,
                seq=event.seq,
                t=event.t,
                kind=event.kind,
                file=event.file,
                data=data,
                size=event.size,
            )
        )
        db.session.flush()  # storage order is id order: gap rows before the events after them
    db.session.commit()
    return {
        "stored": len(new),
        "duplicates": len(events) - len(new),
        "next_seq": last + 1,
        "text_capped": used > cap,
    }


def _fill(gaps: list[ReplayEvent], seq: int) -> None:
    """A missing event arrived after all: shrink (or split, or remove) the gap it was in."""
    for gap in gaps:
        low, high = gap.data["from_seq"], gap.data["to_seq"]
        if not low <= seq <= high:
            continue
        if low == high:
            db.session.delete(gap)
            gaps.remove(gap)
        elif seq == low:
            gap.data = {"from_seq": low + 1, "to_seq": high}
        elif seq == high:
            gap.data = {"from_seq": low, "to_seq": high - 1}
        else:
            gap.data = {"from_seq": low, "to_seq": seq - 1}
            upper = ReplayEvent(
                invite_id=gap.invite_id,
                challenge_version_id=gap.challenge_version_id,
                session=gap.session,
                seq=None,
                t=gap.t,
                kind=GAP,
                file=None,
                data={"from_seq": seq + 1, "to_seq": high},
                size=0,
            )
            db.session.add(upper)
            gaps.append(upper)
        return


def without_text(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """A change or snapshot past the cap: its lengths (UTF-16 units) and origin, no text."""
    if kind == "snapshot":
        return {"text_dropped": True, "length": utf16_length(data["text"])}
    removed = inserted = 0
    for part in data["changes"]:
        if isinstance(part, list):
            removed += part[0]
            inserted += utf16_length("\n".join(part[1:]))
    kept = {key: value for key, value in data.items() if key != "changes"}
    return {**kept, "text_dropped": True, "removed": removed, "inserted": inserted}


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# ---- replaying (pure) -------------------------------------------------------------------------


def order_events(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replay order: each session's events in seq order (a gap row where its range starts),
    the sessions interleaved by ``t``, ties by storage order (``id``)."""
    sessions: dict[str, list[dict[str, Any]]] = {}
    for event in sorted(events, key=lambda e: e["id"]):
        sessions.setdefault(event["session"], []).append(event)
    streams = [
        sorted(
            stream,
            key=lambda e: e["seq"] if e["seq"] is not None else e["data"]["from_seq"] - 0.5,
        )
        for stream in sessions.values()
    ]
    heap = [(stream[0]["t"], stream[0]["id"], n, 0) for n, stream in enumerate(streams)]
    heapq.heapify(heap)
    ordered = []
    while heap:
        _, _, n, i = heapq.heappop(heap)
        ordered.append(streams[n][i])
        if i + 1 < len(streams[n]):
            following = streams[n][i + 1]
            heapq.heappush(heap, (following["t"], following["id"], n, i + 1))
    return ordered


class Divergence(ValueError):
    """A ChangeSet that does not fit the text it is applied to."""


# Where each UTF-16 unit of a file's text came from (one byte per unit, kept beside the text).
STARTER, TYPED, OUTSIDE, INSIDE, OTHER, UNRECORDED = range(6)
SOURCES = {
    STARTER: "starter",
    TYPED: "typed",
    OUTSIDE: "pasted_outside",
    INSIDE: "pasted_inside",
    OTHER: "other",
    UNRECORDED: "unrecorded",
}


def _encode(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _decode(units: bytes) -> str:
    return units.decode("utf-16-le", "surrogatepass")


def apply_changes(text: str, changes: list[Any]) -> str:
    """``text`` with a CodeMirror ChangeSet (its JSON) applied; Divergence if it does not fit."""
    return _decode(_apply(_encode(text), None, changes, 0)[0])


def _apply(
    doc: bytes,
    origins: bytearray | None,
    changes: list[Any],
    code: int,
    removed_log: OrderedDict[bytes, bytes] | None = None,
    restore: bool = False,
) -> tuple[bytes, bytearray | None, int]:
    """Apply ``changes`` to ``doc`` (UTF-16-LE). ``origins`` (one byte per unit) follows: kept
    units keep their origin, inserted ones get ``code`` (or, with ``restore``, the origin they
    had when the same text was removed earlier: undo and redo bring text back). Answers the new
    doc, its origins and the number of units inserted."""
    length = len(doc) // 2
    pieces: list[bytes] = []
    marks: list[bytes] = []
    position = inserted_units = 0
    for part in changes:
        if isinstance(part, int):
            removed, inserted = 0, b""
            kept = part
        else:
            kept, removed = 0, part[0]
            inserted = _encode("\n".join(part[1:]))
        if position + kept + removed > length:
            raise Divergence(
                f"the change reaches unit {position + kept + removed} of a text of {length} "
                "UTF-16 units"
            )
        if kept:
            pieces.append(doc[2 * position : 2 * (position + kept)])
            if origins is not None:
                marks.append(bytes(origins[position : position + kept]))
            position += kept
        if removed and origins is not None and removed_log is not None:
            gone = doc[2 * position : 2 * (position + removed)]
            removed_log[gone] = bytes(origins[position : position + removed])
            removed_log.move_to_end(gone)
            while len(removed_log) > 256:
                removed_log.popitem(last=False)
        position += removed
        if inserted:
            units = len(inserted) // 2
            inserted_units += units
            pieces.append(inserted)
            if origins is not None:
                again = removed_log.get(inserted) if restore and removed_log is not None else None
                marks.append(again if again is not None else bytes([code]) * units)
    if position != length:
        raise Divergence(
            f"the change covers {position} UTF-16 units of a text of {length}: it was made on "
            "another text"
        )
    new_origins = bytearray(b"".join(marks)) if origins is not None else None
    return b"".join(pieces), new_origins, inserted_units


def _origin_code(data: dict[str, Any]) -> int:
    origin = data.get("origin")
    if origin == "type":
        return TYPED
    if origin in PASTE_ORIGINS:
        return INSIDE if (data.get("paste") or {}).get("source") == "inside" else OUTSIDE
    if origin == "reset":
        return STARTER
    return OTHER


def _problem(
    event: dict[str, Any] | None, file: str | None, message: str, diff: str = ""
) -> dict[str, Any]:
    return {
        "session": event["session"] if event else None,
        "seq": event["seq"] if event else None,
        "t": event["t"] if event else None,
        "file": file,
        "message": message,
        "diff": diff,
    }


MAX_DIFF_LINES = 200


def text_diff(path: str, replayed: str, graded: str, *, graded_label: str = "graded") -> str:
    lines = list(
        difflib.unified_diff(
            replayed.splitlines(),
            graded.splitlines(),
            fromfile=f"replay/{path}",
            tofile=f"{graded_label}/{path}",
            lineterm="",
        )
    )
    if not lines and replayed != graded:  # only line endings or a final newline differ
        lines = [f"--- replay/{path}", f"+++ {graded_label}/{path}", "(differs in line endings)"]
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... {len(lines) - MAX_DIFF_LINES} more lines"]
    return "\n".join(lines)


@dataclass
class Paste:
    session: str
    seq: int | None
    t: int
    file: str
    source: str
    size: int  # characters inserted (the browser's count when the text was not recorded)
    text: str | None


@dataclass
class Replay:
    """The outcome of replaying one attempt's challenge: the final text of each editable file
    (None: unknown since a divergence or the cap), where each of its units came from, the text
    at each run and submit, and what could not be replayed."""

    events: list[dict[str, Any]]
    docs: dict[str, bytes | None]
    origins: dict[str, bytearray | None]
    at_marks: list[tuple[dict[str, Any], dict[str, str | None]]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    pastes: list[Paste] = field(default_factory=list)
    capped_at: int | None = None

    @property
    def texts(self) -> dict[str, str | None]:
        return {path: _decode(doc) if doc is not None else None for path, doc in self.docs.items()}


def replay(starters: dict[str, str], events: Iterable[dict[str, Any]]) -> Replay:
    """Replay ``events`` (any order; they are put in replay order) over the ``starters`` of the
    editable files. A change that does not fit, or a snapshot that differs from the replayed
    text, is a problem (the replay goes on from the snapshot's text); gaps and the cap are
    problems too."""
    ordered = order_events(events)
    docs: dict[str, bytes | None] = {path: _encode(text) for path, text in starters.items()}
    origins: dict[str, bytearray | None] = {
        path: bytearray([STARTER]) * (len(doc) // 2)
        for path, doc in docs.items()
        if doc is not None
    }
    result = Replay(events=ordered, docs=docs, origins=origins)
    removed: dict[str, OrderedDict[bytes, bytes]] = {path: OrderedDict() for path in starters}
    for event in ordered:
        kind, path, data = event["kind"], event["file"], event["data"]
        if kind == GAP:
            result.problems.append(
                _problem(
                    {**event, "seq": data["from_seq"]},
                    None,
                    f"events {data['from_seq']} to {data['to_seq']} of session "
                    f"{event['session']} were not received: what happened then is missing"
                    if data["from_seq"] != data["to_seq"]
                    else f"event {data['from_seq']} of session {event['session']} was not "
                    "received: what happened then is missing",
                )
            )
            continue
        if kind in ("run", "submit") and "submission_id" in data:
            result.at_marks.append((event, result.texts))
            continue
        if kind not in TEXT_KINDS or path not in docs:
            continue
        if data.get("text_dropped"):
            if result.capped_at is None:
                result.capped_at = event["t"]
                result.problems.append(
                    _problem(
                        event,
                        path,
                        f"recording capped at {iso_of_ms(event['t'])}: text after it was not "
                        "recorded",
                    )
                )
            docs[path] = origins[path] = None
            if kind == "change" and data.get("origin") in PASTE_ORIGINS:
                paste = data.get("paste") or {}
                result.pastes.append(
                    Paste(
                        event["session"],
                        event["seq"],
                        event["t"],
                        path,
                        paste.get("source", "outside"),
                        int(paste.get("size", data.get("inserted", 0))),
                        None,
                    )
                )
            continue
        if kind == "snapshot":
            text = data["text"]
            current = docs[path]
            if current is None or _decode(current) != text:
                if current is not None:
                    result.problems.append(
                        _problem(
                            event,
                            path,
                            "the page loaded a text that differs from the replayed text (edits "
                            "lost before a reload, another tab, or events lost); the replay "
                            "goes on from the page's text",
                            text_diff(path, _decode(current), text, graded_label="page"),
                        )
                    )
                docs[path] = _encode(text)
                origins[path] = bytearray([UNRECORDED]) * utf16_length(text)
            continue
        # a change: a paste counts even where the text around it is unknown
        if data.get("origin") in PASTE_ORIGINS:
            inserted = "".join("\n".join(p[1:]) for p in data["changes"] if isinstance(p, list))
            result.pastes.append(
                Paste(
                    event["session"],
                    event["seq"],
                    event["t"],
                    path,
                    (data.get("paste") or {}).get("source", "outside"),
                    len(inserted),
                    inserted,
                )
            )
        current = docs[path]
        if current is None:
            continue  # unknown since a problem already reported; a snapshot may resync
        try:
            new, new_origins, _ = _apply(
                current,
                origins[path],
                data["changes"],
                _origin_code(data),
                removed[path],
                restore=data.get("origin") in ("undo", "redo"),
            )
        except Divergence as problem:
            result.problems.append(_problem(event, path, f"the change does not fit: {problem}"))
            docs[path] = origins[path] = None
            continue
        docs[path], origins[path] = new, new_origins
    return result


# ---- integrity (pure) -------------------------------------------------------------------------


def _label(submission: dict[str, Any]) -> str:
    kind = "submission" if submission["mode"] == SubmissionMode.SUBMIT else "test run"
    return f"{kind} #{submission['number']}"


def _mismatch(
    texts: dict[str, str | None], submission: dict[str, Any], starters: dict[str, str]
) -> tuple[str, str] | None:
    """The first editable file whose replayed text differs from what ``submission`` graded."""
    for path, replayed in texts.items():
        if replayed is None:
            continue  # unknown since a problem already reported
        graded = submission["files"].get(path, starters[path])
        if replayed != graded:
            return path, text_diff(path, replayed, graded)
    return None


def integrity(
    replayed: Replay, submissions: list[dict[str, Any]], starters: dict[str, str]
) -> dict[str, Any]:
    """Whether the replay is the code that was graded: the replayed text at each run or submit
    event equals the files that submission graded, and the last submission (submit mode, else
    the last run) is checked (at its event, else against the final replayed text). The first
    mismatch is reported with a diff, with every gap, divergence, the cap, and the candidate's
    runs and submissions the recording never mentions."""
    by_id = {s["id"]: s for s in submissions}
    problems = list(replayed.problems)
    verified: list[int] = []
    mismatched = False
    checked_at_event: set[int] = set()
    for event, texts in replayed.at_marks:
        submission = by_id.get(event["data"]["submission_id"])
        if submission is None:
            continue
        checked_at_event.add(submission["id"])
        if mismatched:
            continue
        found = _mismatch(texts, submission, starters)
        if found is None:
            verified.append(submission["id"])
            continue
        mismatched = True
        path, diff = found
        problems.append(
            _problem(
                event,
                path,
                f"the replayed text differs from what {_label(submission)} graded: the "
                "recording is incomplete or was altered",
                diff,
            )
        )
    last = _last_submission(submissions)
    if last is not None and last["id"] not in checked_at_event:
        if not replayed.events:
            problems.append(
                _problem(None, None, "nothing was recorded for this challenge, yet it was graded")
            )
        elif not mismatched:
            found = _mismatch(replayed.texts, last, starters)
            if found is None:
                verified.append(last["id"])
            else:
                path, diff = found
                problems.append(
                    _problem(
                        replayed.events[-1],
                        path,
                        f"the replayed final text differs from what {_label(last)} graded: the "
                        "recording is incomplete or was altered",
                        diff,
                    )
                )
    if replayed.events:
        for submission in submissions:
            if submission["id"] not in checked_at_event and not submission["at_timeout"]:
                if last is not None and submission["id"] == last["id"] and last["id"] in verified:
                    continue
                problems.append(
                    _problem(
                        None,
                        None,
                        f"{_label(submission)} has no run or submit event in the recording: "
                        "events were lost, or it was made outside the page",
                    )
                )
    problems.sort(key=lambda p: (p["t"] is None, p["t"] or 0))
    return {
        "ok": not problems,
        "checked_submission_id": last["id"] if last is not None else None,
        "verified_submission_ids": verified,
        "capped_at": replayed.capped_at,
        "problems": problems,
    }


def _last_submission(submissions: list[dict[str, Any]]) -> dict[str, Any] | None:
    ordered = sorted(submissions, key=lambda s: (s["created_ms"], s["id"]))
    submits = [s for s in ordered if s["mode"] == SubmissionMode.SUBMIT]
    if submits:
        return submits[-1]
    return ordered[-1] if ordered else None


# ---- signals (pure) ---------------------------------------------------------------------------

PRESENCE = ("change", "snapshot", "file", "run", "submit")  # the candidate is at a page
MAX_PASTES = 5
MAX_PASTE_TEXT = 2000


def away_intervals(events: list[dict[str, Any]], end_ms: int | None) -> list[tuple[int, int]]:
    """Time away from the page, merged: from a blur until the focus (from a hidden until the
    visible) of the same page; another page (a tab, a reload) coming to the front, or any sign
    of the candidate at a page (an edit, a page load, a file switch, a run), ends it too; else
    the end. ``events`` in replay order."""
    opened: dict[tuple[str, str], int] = {}
    spans: list[tuple[int, int]] = []

    def close(key: tuple[str, str], at: int) -> None:
        start = opened.pop(key)
        if at > start:
            spans.append((start, at))

    for event in events:
        kind, t, session = event["kind"], event["t"], event["session"]
        if kind in ("blur", "hidden"):
            opened.setdefault((session, kind), t)
        elif kind in ("focus", "visible"):
            ends = "blur" if kind == "focus" else "hidden"
            for key in list(opened):
                # this page's own blur (hidden) ends; another page in front ends its absences
                if key == (session, ends) or (key[0] != session and key[1] in (ends, "hidden")):
                    close(key, t)
        elif kind in PRESENCE:
            for key in list(opened):
                close(key, t)
    last = max((event["t"] for event in events), default=None)
    finish = end_ms if end_ms is not None else last
    for key in list(opened):
        close(key, max(finish or 0, opened[key]))
    return merge(spans)


def merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def signals(
    replayed: Replay,
    submissions: list[dict[str, Any]],
    started_ms: int | None,
    end_ms: int | None,
) -> dict[str, Any]:
    """The summary interviewers read beside the replay: where the final code came from, the
    largest outside pastes, time away, time to the first (passing) test run, runs and submits.
    Signals, not verdicts: docs/interviewers.md says what each can and cannot mean."""
    counts = dict.fromkeys(SOURCES.values(), 0)
    known = all(doc is not None for doc in replayed.docs.values())
    if known:
        for path, doc in replayed.docs.items():
            marks = replayed.origins[path]
            assert doc is not None and marks is not None
            for unit in range(len(doc) // 2):
                high = doc[2 * unit + 1]
                if 0xDC <= high <= 0xDF:  # the second half of a surrogate pair: one character
                    continue
                counts[SOURCES[marks[unit]]] += 1
    total = sum(counts.values())
    share = {name: round(count / total, 4) for name, count in counts.items()} if total else None
    outside = [paste for paste in replayed.pastes if paste.source == "outside"]
    largest = sorted(outside, key=lambda p: (-p.size, p.t))[:MAX_PASTES]
    away = away_intervals(replayed.events, end_ms)
    longest = max(away, key=lambda span: span[1] - span[0], default=None)
    ordered = sorted(submissions, key=lambda s: (s["created_ms"], s["id"]))
    runs = [s for s in ordered if s["mode"] == SubmissionMode.RUN]
    passing = next(
        (
            s
            for s in runs
            if s["status"] == SubmissionStatus.GRADED and 0 < s["total"] == s["passed"]
        ),
        None,
    )

    def since_start(submission: dict[str, Any] | None) -> int | None:
        if submission is None or started_ms is None:
            return None
        return max(0, submission["created_ms"] - started_ms)

    return {
        "characters": counts if known else None,
        "share": share,
        "outside_pastes": len(outside),
        "outside_pasted_characters": sum(paste.size for paste in outside),
        "largest_outside_pastes": [
            {
                "session": paste.session,
                "seq": paste.seq,
                "t": paste.t,
                "file": paste.file,
                "size": paste.size,
                "text": paste.text[:MAX_PASTE_TEXT] if paste.text is not None else None,
                "text_truncated": paste.text is not None and len(paste.text) > MAX_PASTE_TEXT,
            }
            for paste in largest
        ],
        "away_ms": sum(end - start for start, end in away),
        "longest_away_ms": longest[1] - longest[0] if longest else 0,
        "longest_away_at": longest[0] if longest else None,
        "away_intervals": [list(span) for span in away],
        "first_run_ms": since_start(runs[0] if runs else None),
        "first_passing_run_ms": since_start(passing),
        "runs": len(runs),
        "submits": len(ordered) - len(runs),
    }


# ---- reading an attempt (database) ------------------------------------------------------------


def load_events(invite: Invite, version: ChallengeVersion) -> list[dict[str, Any]]:
    """The attempt's stored events of ``version``, in storage order, as plain rows (a 30-minute
    session is some 10,000 of them: columns, not ORM objects, keep opening a replay fast)."""
    columns = (
        ReplayEvent.id,
        ReplayEvent.session,
        ReplayEvent.seq,
        ReplayEvent.t,
        ReplayEvent.kind,
        ReplayEvent.file,
        ReplayEvent.data,
    )
    query = (
        select(*columns)
        .where(ReplayEvent.invite_id == invite.id, ReplayEvent.challenge_version_id == version.id)
        .order_by(ReplayEvent.id)
    )
    return [row._asdict() for row in db.session.execute(query)]


def submission_dicts(submissions: list[Submission]) -> list[dict[str, Any]]:
    numbers = numbers_of(submissions)
    dicts = []
    for submission in submissions:
        checks = (submission.report or {}).get("checks") or []
        dicts.append(
            {
                "id": submission.id,
                "number": numbers[submission.id],
                "mode": submission.mode,
                "files": submission.files,
                "created_ms": epoch_ms(submission.created_at),
                "at_timeout": submission.at_timeout,
                "status": submission.status,
                "passed": sum(1 for check in checks if check.get("passed")),
                "total": len(checks),
            }
        )
    return dicts


def candidate_submissions(invite: Invite, version: ChallengeVersion) -> list[Submission]:
    query = (
        select(Submission)
        .where(*Submission.of_candidate(invite.id, version.id))
        .order_by(Submission.created_at, Submission.id)
    )
    return list(db.session.scalars(query))


def editable_starters(version: ChallengeVersion) -> dict[str, str]:
    return {path: version.payload["starter"][path] for path in version.editable_paths}


@dataclass
class Analysis:
    replay: Replay
    submissions: list[Submission]
    integrity: dict[str, Any]
    signals: dict[str, Any]


def analyse_attempt(
    invite: Invite,
    version: ChallengeVersion,
    submissions: list[Submission] | None = None,
    now: datetime | None = None,
) -> Analysis:
    """Replay, integrity and signals of one candidate's challenge. ``submissions``: their runs
    and submits of ``version`` (regrades left out), when the caller has them."""
    if submissions is None:
        submissions = candidate_submissions(invite, version)
    starters = editable_starters(version)
    replayed = replay(starters, load_events(invite, version))
    plain = submission_dicts(submissions)
    end = attempt_end(invite)
    now = now or utcnow()
    if end is not None and end > now and invite.state == InviteState.STARTED:
        end = now  # still working: away until now at most
    return Analysis(
        replay=replayed,
        submissions=submissions,
        integrity=integrity(replayed, plain, starters),
        signals=signals(
            replayed,
            plain,
            epoch_ms(invite.started_at) if invite.started_at else None,
            epoch_ms(end) if end is not None else None,
        ),
    )


def replay_json(invite: Invite, version: ChallengeVersion) -> dict[str, Any]:
    """What the review's replay player reads (docs/api.md, "Staff: replay JSON")."""
    analysis = analyse_attempt(invite, version)
    numbers = numbers_of(analysis.submissions)
    starter = version.payload["starter"]
    return {
        "files": {
            entry["path"]: {"starter": starter[entry["path"]], "editable": bool(entry["editable"])}
            for entry in version.spec["files"]
        },
        "started_at": _iso(invite.started_at),
        "deadline": _iso(invite.deadline),
        "events": [
            {key: event[key] for key in ("session", "seq", "t", "kind", "file", "data")}
            for event in analysis.replay.events
        ],
        "submissions": [
            {  # the candidate API's submission summary (docs/api.md)
                "id": submission.id,
                "number": numbers[submission.id],
                "mode": submission.mode,
                "status": submission.status,
                "score": submission.score,
                "max_score": submission.max_score,
                "created_at": _iso(submission.created_at),
                "at_timeout": submission.at_timeout,
            }
            for submission in analysis.submissions
        ],
        "integrity": analysis.integrity,
        "signals": analysis.signals,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment is not None else None
