"""How times and durations read on every page (app/formatting.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.formatting import format_duration, format_when


def test_durations_read_as_seconds_without_a_trailing_zero():
    assert [format_duration(timedelta(seconds=s)) for s in (0, 3, 8.24, 42)] == [
        "0 s",
        "3 s",
        "8.2 s",
        "42 s",
    ]
    assert format_duration(None) == "—"


def test_times_given_as_iso_text_are_shown_in_utc_and_other_text_as_it_is():
    assert format_when("2026-11-25T14:08:40+01:00") == "2026-11-25 13:08 UTC"
    assert format_when("2026-11-25T13:08:40Z") == "2026-11-25 13:08 UTC"
    assert format_when(datetime(2026, 11, 25, 13, 8)) == "2026-11-25 13:08 UTC"
    assert format_when("yesterday") == "yesterday"
    assert format_when(None) == "—"
