"""Evidence charts: plain numbers for a small horizontal bar chart drawn as inline SVG
(templates/_evidence_chart.html), no chart library. The candidate's report shows their value,
the limit and the starter's; the interviewer's adds the reference solution's."""

from __future__ import annotations

import math
from typing import Any

from grader.report import quantity_text

CHART_WIDTH = 460
CHART_LABEL = 80
CHART_VALUE = 120
CHART_ROW = 22
CHART_BAR = 14
LOG_SCALE_RATIO = 20  # bars that differ more than this are drawn on a log scale
# Room the chart's texts take, to keep them off the limit line and the axis. The figures are
# 12px monospace (about 7.2px a character in every common monospace font), the row names 12px
# sans-serif (narrower): both estimates err on the wide side.
VALUE_CHAR = 7.6
LABEL_CHAR = 7.2
TEXT_GAP = 6  # between a bar's end (or a line) and the figure beside it
LINE_CLEARANCE = 2  # the least room left between a text and a line


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def evidence_chart(
    metric: dict[str, Any],
    *,
    subject: str = "you",
    with_reference: bool = False,
    reference_measured: bool = False,
) -> dict[str, Any]:
    """Geometry of one metric's chart. ``reference_measured`` says whether a missing reference
    figure is final ("not measured") or still to come ("not measured yet")."""
    better = metric.get("better", "lower")
    unit = metric.get("unit", "")
    value, limit = metric.get("value"), metric.get("limit")
    if not _finite(value) or not _finite(limit):
        verdict = "neutral"
    elif (better == "lower" and value <= limit) or (better == "higher" and value >= limit):
        verdict = "within"
    else:
        verdict = "outside"
    rows: list[tuple[str, Any, str, str | None]] = [
        (subject, value, f"bar-{verdict}", None),
        ("limit" if better == "lower" else "at least", limit, "bar-limit", None),
        ("starter", metric.get("starter"), "bar-starter", None),
    ]
    if with_reference:
        reference = metric.get("reference")
        missing = "not measured" if reference_measured else "not measured yet"
        rows.append(
            ("reference", reference, "bar-reference", None if reference is not None else missing)
        )
    numbers = [v for _, v, _, _ in rows if _finite(v)]
    low, high = min([0.0, *numbers]), max([0.0, *numbers])
    span = (high - low) or 1.0
    plot = CHART_WIDTH - CHART_LABEL - CHART_VALUE
    positive = [v for v in numbers if v > 0]
    logarithmic = low == 0 and len(positive) > 1 and max(positive) > LOG_SCALE_RATIO * min(positive)
    if logarithmic:  # 1 against 401: both bars must show
        floor = math.log10(min(positive)) - 0.5  # the smallest bar keeps some length
        decades = math.log10(max(positive)) - floor

    def x(v: float) -> float:
        if logarithmic:
            share = (math.log10(v) - floor) / decades if v > 0 else 0.0
            return round(CHART_LABEL + share * plot, 1)
        return round(CHART_LABEL + (v - low) / span * plot, 1)

    zero = x(0.0)
    limit_x = x(limit) if _finite(limit) else None
    lines = [zero] if limit_x is None else [zero, limit_x]
    drawn = []
    for index, (label, v, css, text) in enumerate(rows):
        finite = _finite(v)
        start, end = (min(zero, x(v)), max(zero, x(v))) if finite else (zero, zero)
        y = index * CHART_ROW + 4
        shown = text if text is not None else quantity_text(v, unit)
        text_width = len(shown) * VALUE_CHAR
        text_x = _clear_of(lines, end + TEXT_GAP, text_width)
        label_width = len(label) * LABEL_CHAR
        drawn.append(
            {
                "label": label,
                "text": shown,
                "css": css,
                "y": y,
                "x": start,
                "width": max(end - start, 1.0) if finite else 0,
                "text_x": text_x,
                # (left, top, right, bottom) of the figure and of the row's name
                "text_box": (text_x, y, round(text_x + text_width, 1), y + CHART_BAR),
                "label_box": (
                    round(CHART_LABEL - 8 - label_width, 1),
                    y,
                    CHART_LABEL - 8,
                    y + CHART_BAR,
                ),
            }
        )
    height = len(rows) * CHART_ROW + 8
    right = max(row["text_box"][2] for row in drawn)
    return {
        # wider than usual only when a figure had to move right of the limit line
        "width": max(CHART_WIDTH, math.ceil(right + TEXT_GAP)),
        "height": height,
        "bar": CHART_BAR,
        "row": CHART_ROW,
        "zero": zero,
        "label_x": CHART_LABEL - 8,
        "limit_x": limit_x,
        "line_top": 0,
        "line_bottom": height - 4,
        "rows": drawn,
        "verdict": verdict,
        "better": better,
        "scale": "log" if logarithmic else "linear",
        # Every figure 0 (a count that must stay 0, and did): a bar chart says nothing more.
        "worth_drawing": any(v != 0 for v in numbers),
        "title": metric.get("label") or metric.get("name", ""),
        "summary": metric.get("summary", ""),
    }


def _clear_of(lines: list[float], earliest: float, width: float) -> float:
    """Where a text ``width`` wide starts: at ``earliest`` (just after its bar) unless a line
    (the limit, the axis) would run through it; then just after that line, and so on, so the
    limit line never crosses a figure."""
    start = earliest
    for line in sorted(lines):
        if start - LINE_CLEARANCE <= line <= start + width + LINE_CLEARANCE:
            start = round(line + TEXT_GAP, 1)
    return start
