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
    drawn = []
    for index, (label, v, css, text) in enumerate(rows):
        finite = _finite(v)
        start, end = (min(zero, x(v)), max(zero, x(v))) if finite else (zero, zero)
        drawn.append(
            {
                "label": label,
                "text": text if text is not None else quantity_text(v, unit),
                "css": css,
                "y": index * CHART_ROW + 4,
                "x": start,
                "width": max(end - start, 1.0) if finite else 0,
                "text_x": (end if finite else zero) + 6,
            }
        )
    return {
        "width": CHART_WIDTH,
        "height": len(rows) * CHART_ROW + 8,
        "bar": CHART_BAR,
        "row": CHART_ROW,
        "zero": zero,
        "label_x": CHART_LABEL - 8,
        "limit_x": x(limit) if _finite(limit) else None,
        "rows": drawn,
        "verdict": verdict,
        "better": better,
        "scale": "log" if logarithmic else "linear",
        # Every figure 0 (a count that must stay 0, and did): a bar chart says nothing more.
        "worth_drawing": any(v != 0 for v in numbers),
        "title": metric.get("label") or metric.get("name", ""),
        "summary": metric.get("summary", ""),
    }
