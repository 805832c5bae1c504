"""How the pages show times, durations, scores and statuses: one home for presentation, used
by the templates (registered app-wide in create_app) and by the services that fill JSON for the
pages' scripts. The browser's scripts take the status labels from the page (base.html)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask

STATUS_LABELS = {
    "queued": "Queued",
    "running": "Running",
    "graded": "Graded",
    "timeout": "Timed out",
    "oom": "Out of memory",
    "error": "Error",
    "rejected": "Rejected",
    "infra_error": "Infrastructure problem",
}


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "")


def score_text(score: int | None, max_score: int | None) -> str:
    return f"{'—' if score is None else score}/{max_score if max_score is not None else '—'}"


def format_when(moment: datetime | str | None, *, seconds: bool = False, missing: str = "—") -> str:
    """'2026-11-25 13:08 UTC' ('13:08:40' with ``seconds``). Naive datetimes are UTC (as the
    database stores them); a string is an ISO 8601 timestamp (as reports carry them), shown as
    it is if it is not one."""
    if moment is None:
        return missing
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def format_duration(span: timedelta | None) -> str:
    """'1 h 05 min', '12 min 30 s', '8.2 s', '3 s', '0 s'."""
    if span is None:
        return "—"
    seconds = span.total_seconds()
    if seconds < 60:
        text = f"{seconds:.1f}" if seconds < 10 else f"{seconds:.0f}"
        return f"{text.removesuffix('.0')} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def format_age(seconds: float | None) -> str:
    """Whole seconds as a duration: '2 h 05 min', '3 min 07 s', '12 s' (admin-ops.js alike)."""
    return "—" if seconds is None else format_duration(timedelta(seconds=int(seconds)))


def format_timestamp(iso: str | None) -> str:
    """An ISO timestamp from a record as '2026-01-31 14:05:09 UTC'; nothing for none."""
    return format_when(iso, seconds=True, missing="")


def clock(seconds: int | None) -> str:
    """1:05:09 or 5:09, as the live countdown shows it."""
    seconds = max(0, int(seconds or 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def init_app(app: Flask) -> None:
    for name, function in (
        ("status_label", status_label),
        ("clock", clock),
        ("timestamp", format_timestamp),
        ("age", format_age),
    ):
        app.add_template_filter(function, name)
    app.context_processor(
        lambda: {
            "when": format_when,
            "duration": format_duration,
            "score_text": score_text,
            "status_labels": STATUS_LABELS,
        }
    )
