"""The session replay's pure functions (app/services/replay.py), on hand-built streams: applying
CodeMirror 6 ChangeSets (UTF-16 lengths, multi-range), the replay order, integrity against the
graded files, and the signals. No database, no app."""

from __future__ import annotations

import itertools

import pytest

from app.services.replay import (
    Divergence,
    apply_changes,
    away_intervals,
    integrity,
    order_events,
    replay,
    signals,
)

STARTER = "def total(items):\n    return 0\n"  # 31 UTF-16 units
FILE = "calc.py"
START = 1_765_000_000_000  # the attempt's start, epoch ms

_ids = itertools.count(1)


def event(seq, t, kind, data=None, *, file=FILE, session="tab-one-1"):
    """An event as stored: ``t`` in seconds after START for readability."""
    if kind in ("focus", "blur", "visible", "hidden", "run", "submit", "result"):
        file = None
    return {
        "id": next(_ids),
        "session": session,
        "seq": seq,
        "t": START + int(t * 1000),
        "kind": kind,
        "file": file,
        "data": data or {},
    }


def change(seq, t, changes, origin="type", source=None, **kw):
    data = {"changes": changes, "origin": origin}
    if source is not None:
        data["paste"] = {"size": 0, "source": source}
    return event(seq, t, "change", data, **kw)


def typed(seq, t, text_before: str, at: int, inserted: str, **kw):
    """The ChangeSet CodeMirror makes for typing ``inserted`` at unit ``at``."""
    length = len(text_before.encode("utf-16-le")) // 2
    lines = inserted.split("\n")
    return change(seq, t, [at, [0, *lines], length - at], **kw)


def submission(id, files, *, mode="submit", number=1, t=60, at_timeout=False, passed=0, total=0):
    return {
        "id": id,
        "number": number,
        "mode": mode,
        "files": files,
        "created_ms": START + t * 1000,
        "at_timeout": at_timeout,
        "status": "graded",
        "passed": passed,
        "total": total,
    }


# ---- applying ChangeSets ----------------------------------------------------------------------


def test_a_typed_character_is_inserted_where_codemirror_says():
    assert apply_changes("abc", [1, [0, "X"], 2]) == "aXbc"


def test_an_inserted_line_break_joins_the_json_lines_with_newlines():
    assert apply_changes("ab", [1, [0, "", "    "], 1]) == "a\n    b"


def test_a_deletion_and_a_replacement():
    assert apply_changes("hello world", [5, [6]]) == "hello"
    assert apply_changes("hello world", [6, [5, "there"]]) == "hello there"


def test_a_multi_range_change_from_several_cursors_applies_every_range_against_the_old_text():
    old = "a = 1\nb = 1\nc = 1\n"
    changes = [4, [1, "2"], 5, [1, "2"], 5, [1, "2"], 1]
    assert apply_changes(old, changes) == "a = 2\nb = 2\nc = 2\n"


def test_a_character_outside_the_bmp_counts_two_units_as_in_the_browser():
    text = "x = '😀'\n"  # x = ' is 5 units, the emoji 2, then '\n
    assert apply_changes(text, [5, [2], 2]) == "x = ''\n"
    assert apply_changes(text, [7, [0, "🎉!"], 2]) == "x = '😀🎉!'\n"
    after = apply_changes(text, [7, [0, "🎉"], 2])
    assert apply_changes(after, [9, [0, "."], 2]) == "x = '😀🎉.'\n"


@pytest.mark.parametrize(
    "changes",
    [[2], [4, [0, "x"]], [1, [5]], [10]],
    ids=["too short", "too short after insert", "removes past the end", "too long"],
)
def test_a_changeset_that_does_not_fit_the_text_is_a_divergence_not_a_crash(changes):
    with pytest.raises(Divergence):
        apply_changes("abc", changes)


# ---- replay order and text --------------------------------------------------------------------


def test_sessions_are_interleaved_by_time_and_each_keeps_its_seq_order():
    a1, a2 = event(1, 1, "focus", session="tab-aaaa"), event(2, 5, "blur", session="tab-aaaa")
    b1 = event(1, 3, "focus", session="tab-bbbb")
    late_a3 = event(3, 4, "focus", session="tab-aaaa")  # t before a2's, but seq after
    ordered = order_events([late_a3, b1, a2, a1])
    assert [(e["session"], e["seq"]) for e in ordered] == [
        ("tab-aaaa", 1),
        ("tab-bbbb", 1),
        ("tab-aaaa", 2),
        ("tab-aaaa", 3),
    ]


def test_typing_pasting_and_undo_replay_to_the_final_text():
    text = STARTER
    stream = [event(1, 0, "snapshot", {"text": STARTER})]
    at = text.index("0")
    stream.append(change(2, 10, [at, [1], len(text) - at - 1]))
    text = text[:at] + text[at + 1 :]
    stream.append(typed(3, 11, text, at, "sum(items)"))
    text = text[:at] + "sum(items)" + text[at:]
    result = replay({FILE: STARTER}, stream)
    assert result.texts == {FILE: "def total(items):\n    return sum(items)\n"}
    assert result.problems == []


def test_a_snapshot_that_differs_is_a_divergence_and_the_replay_goes_on_from_it():
    stream = [
        event(1, 0, "snapshot", {"text": STARTER}),
        event(1, 30, "snapshot", {"text": "reloaded\n"}, session="tab-two-2"),
        typed(2, 31, "reloaded\n", 8, "!", session="tab-two-2"),
    ]
    result = replay({FILE: STARTER}, stream)
    assert result.texts[FILE] == "reloaded!\n"
    (problem,) = result.problems
    assert (problem["session"], problem["seq"], problem["file"]) == ("tab-two-2", 1, FILE)
    assert problem["t"] == START + 30_000
    assert "+reloaded" in problem["diff"]


def test_a_change_that_does_not_fit_is_reported_with_its_seq_and_the_text_becomes_unknown():
    stream = [change(1, 5, [3, [0, "x"]]), change(2, 6, [1, [0, "y"], 30])]
    result = replay({FILE: STARTER}, stream)
    (problem,) = result.problems
    assert problem["seq"] == 1 and "does not fit" in problem["message"]
    assert result.texts[FILE] is None


# ---- integrity --------------------------------------------------------------------------------

FIXED = "def total(items):\n    return sum(items)\n"


def _fixing_stream():
    at = STARTER.index("0")
    return [
        event(1, 0, "snapshot", {"text": STARTER}),
        change(2, 10, [at, [1, "sum(items)"], len(STARTER) - at - 1]),
        event(3, 12, "run", {"submission_id": 7}),
        event(4, 20, "submit", {"submission_id": 8}),
    ]


def test_integrity_is_ok_when_the_replay_equals_every_graded_submission():
    subs = [
        submission(7, {FILE: FIXED}, mode="run", t=12),
        submission(8, {FILE: FIXED}, t=20),
    ]
    report = integrity(replay({FILE: STARTER}, _fixing_stream()), subs, {FILE: STARTER})
    assert report["ok"] is True and report["problems"] == []
    assert report["checked_submission_id"] == 8
    assert report["verified_submission_ids"] == [7, 8]


def test_a_forged_stream_is_detected_where_it_diverges_with_a_diff():
    subs = [
        submission(7, {FILE: FIXED}, mode="run", t=12),
        submission(8, {FILE: "def total(items):\n    return sum(items) + 0\n"}, t=20),
    ]
    report = integrity(replay({FILE: STARTER}, _fixing_stream()), subs, {FILE: STARTER})
    assert report["ok"] is False
    (problem,) = report["problems"]
    assert (problem["seq"], problem["file"], problem["t"]) == (4, FILE, START + 20_000)
    assert "submission #1" in problem["message"]
    assert "-    return sum(items)" in problem["diff"]
    assert "+    return sum(items) + 0" in problem["diff"]


def test_a_lost_stream_shows_the_gap_and_the_mismatch_it_causes():
    stream = _fixing_stream()
    del stream[1]  # the edit never arrived...
    stream.insert(
        1,
        {
            "id": next(_ids),
            "session": "tab-one-1",
            "seq": None,
            "t": START + 12_000,
            "kind": "gap",
            "file": None,
            "data": {"from_seq": 2, "to_seq": 2},
        },
    )
    subs = [submission(7, {FILE: FIXED}, mode="run", t=12), submission(8, {FILE: FIXED}, t=20)]
    report = integrity(replay({FILE: STARTER}, stream), subs, {FILE: STARTER})
    assert report["ok"] is False
    gap, mismatch = report["problems"]
    assert "event 2 of session tab-one-1 was not received" in gap["message"]
    assert mismatch["seq"] == 3 and "test run #1" in mismatch["message"]


def test_a_submission_the_recording_never_mentions_is_a_problem():
    stream = _fixing_stream()[:2]  # recorded the edit, lost the run and submit events
    subs = [submission(7, {FILE: FIXED}, mode="run", t=12), submission(8, {FILE: FIXED}, t=20)]
    report = integrity(replay({FILE: STARTER}, stream), subs, {FILE: STARTER})
    assert report["ok"] is False
    assert report["verified_submission_ids"] == [8]  # the final text is the last submission's
    (problem,) = report["problems"]
    assert "test run #1 has no run or submit event" in problem["message"]


def test_the_submission_made_at_time_out_is_checked_against_the_final_replayed_text():
    stream = _fixing_stream()[:2]
    subs = [submission(9, {FILE: FIXED}, t=300, at_timeout=True)]
    report = integrity(replay({FILE: STARTER}, stream), subs, {FILE: STARTER})
    assert report["ok"] is True and report["verified_submission_ids"] == [9]


def test_nothing_recorded_for_a_graded_challenge_is_not_ok():
    report = integrity(replay({FILE: STARTER}, []), [submission(8, {FILE: FIXED})], {FILE: STARTER})
    assert report["ok"] is False
    assert "nothing was recorded" in report["problems"][0]["message"]


def test_an_editable_file_the_submission_left_out_is_compared_with_its_starter():
    stream = [
        event(1, 0, "snapshot", {"text": STARTER}),
        event(2, 5, "submit", {"submission_id": 3}),
    ]
    report = integrity(replay({FILE: STARTER}, stream), [submission(3, {})], {FILE: STARTER})
    assert report["ok"] is True


def test_the_cap_is_listed_with_its_time_and_unknown_text_is_not_called_a_mismatch():
    stream = [
        event(1, 0, "snapshot", {"text": STARTER}),
        change(2, 10, [], origin="type") | {"data": {"origin": "type", "text_dropped": True}},
        event(3, 20, "submit", {"submission_id": 8}),
    ]
    report = integrity(
        replay({FILE: STARTER}, stream), [submission(8, {FILE: FIXED})], {FILE: STARTER}
    )
    assert report["capped_at"] == START + 10_000
    (problem,) = report["problems"]
    assert "recording capped at" in problem["message"] and "not recorded" in problem["message"]


# ---- signals ----------------------------------------------------------------------------------


def test_shares_follow_each_character_from_its_origin_through_later_edits():
    text = "x\n"  # starter: 2 characters
    stream = [event(1, 0, "snapshot", {"text": text})]
    stream.append(typed(2, 1, text, 0, "abcd"))  # typed 4
    text = "abcdx\n"
    stream.append(typed(3, 2, text, 4, "PASTED-OUTSIDE", origin="paste", source="outside"))
    text = "abcdPASTED-OUTSIDEx\n"
    stream.append(typed(4, 3, text, 0, "in", origin="paste", source="inside"))
    text = "inabcdPASTED-OUTSIDEx\n"
    # delete "-OUTSIDE" (8 characters of the outside paste) and 'x' of the starter
    at = text.index("-OUTSIDE")
    stream.append(change(5, 4, [at, [9], len(text) - at - 9]))
    result = replay({FILE: "x\n"}, stream)
    assert result.texts[FILE] == "inabcdPASTED\n"
    found = signals(result, [], START, START + 60_000)
    assert found["characters"] == {
        "starter": 1,
        "typed": 4,
        "pasted_outside": 6,
        "pasted_inside": 2,
        "other": 0,
        "unrecorded": 0,
    }
    assert found["share"]["pasted_outside"] == round(6 / 13, 4)
    assert found["outside_pastes"] == 1
    (paste,) = found["largest_outside_pastes"]
    assert (paste["size"], paste["text"], paste["seq"]) == (14, "PASTED-OUTSIDE", 3)


def test_undo_of_a_deleted_paste_keeps_counting_it_as_pasted():
    text = "\n"
    stream = [typed(1, 1, text, 0, "import os", origin="paste", source="outside")]
    stream.append(change(2, 2, [[9], 1]))
    stream.append(change(3, 3, [[0, "import os"], 1], origin="undo"))
    found = signals(replay({FILE: "\n"}, stream), [], START, None)
    assert found["characters"]["pasted_outside"] == 9 and found["characters"]["other"] == 0


def test_an_emoji_counts_as_one_character_of_the_final_code():
    stream = [typed(1, 1, "\n", 0, "😀", origin="paste", source="outside")]
    found = signals(replay({FILE: "\n"}, stream), [], START, None)
    assert found["characters"]["pasted_outside"] == 1
    assert found["largest_outside_pastes"][0]["size"] == 1


def test_the_largest_outside_pastes_are_the_five_biggest_largest_first():
    stream, text = [], ""
    for n, size in enumerate([3, 50, 7, 20, 1, 9, 40], start=1):
        stream.append(typed(n, n, text, len(text), "p" * size, origin="paste", source="outside"))
        text += "p" * size
    found = signals(replay({FILE: ""}, stream), [], START, None)
    assert [p["size"] for p in found["largest_outside_pastes"]] == [50, 40, 20, 9, 7]
    assert found["outside_pastes"] == 7 and found["outside_pasted_characters"] == 130


def test_away_time_merges_overlapping_blur_and_hidden_and_finds_the_longest_absence():
    stream = [
        event(1, 10, "blur"),
        event(2, 12, "hidden"),  # overlaps the blur
        event(3, 30, "visible"),
        event(4, 31, "focus"),  # away 10 s to 31 s: 21 s
        event(5, 100, "blur"),
        event(6, 105, "focus"),  # 5 s
        event(7, 200, "hidden"),  # never comes back: away until the end
    ]
    found = signals(replay({FILE: STARTER}, stream), [], START, START + 210_000)
    assert found["away_intervals"] == [
        [START + 10_000, START + 31_000],
        [START + 100_000, START + 105_000],
        [START + 200_000, START + 210_000],
    ]
    assert found["away_ms"] == 36_000
    assert (found["longest_away_ms"], found["longest_away_at"]) == (21_000, START + 10_000)


def test_a_new_page_or_an_edit_ends_an_absence_that_never_got_its_focus_event():
    stream = [
        event(1, 10, "hidden"),  # the tab is reloaded: this page never becomes visible again
        event(1, 14, "snapshot", {"text": STARTER}, session="tab-two-2"),
    ]
    assert away_intervals(order_events(stream), START + 100_000) == [
        (START + 10_000, START + 14_000)
    ]


def test_time_to_first_run_and_first_passing_run_and_counts_come_from_the_server_records():
    subs = [
        submission(1, {}, mode="run", number=1, t=90, passed=1, total=2),
        submission(2, {}, mode="run", number=2, t=150, passed=2, total=2),
        submission(3, {}, mode="submit", number=1, t=200, passed=2, total=2),
        submission(4, {}, mode="run", number=3, t=260, passed=2, total=2),
    ]
    found = signals(replay({FILE: STARTER}, []), subs, START, None)
    assert (found["first_run_ms"], found["first_passing_run_ms"]) == (90_000, 150_000)
    assert (found["runs"], found["submits"]) == (3, 1)


def test_a_run_with_no_tests_collected_is_not_a_passing_run():
    subs = [submission(1, {}, mode="run", t=30, passed=0, total=0)]
    found = signals(replay({FILE: STARTER}, []), subs, START, None)
    assert found["first_run_ms"] == 30_000 and found["first_passing_run_ms"] is None


def test_an_outside_paste_counts_even_where_the_text_around_it_is_unknown():
    stream = [
        change(1, 1, [99, [0, "x"]]),  # does not fit: the text is unknown from here
        change(2, 2, [0, [0, "big paste"], 5], origin="paste", source="outside"),
    ]
    found = signals(replay({FILE: STARTER}, stream), [], START, None)
    assert found["share"] is None  # the final text is not known
    assert [p["text"] for p in found["largest_outside_pastes"]] == ["big paste"]
