"""Evidence charts: every bar visible, numbers in human units, no chart that says nothing, and
no line drawn through a figure or a row's name."""

from __future__ import annotations

import pytest

from app.charts import CHART_LABEL, TEXT_GAP, evidence_chart


def _bars(chart: dict) -> dict[str, dict]:
    return {row["label"]: row for row in chart["rows"]}


def test_values_far_apart_are_drawn_on_a_log_scale_so_both_bars_show():
    chart = evidence_chart(
        {"name": "statements", "value": 1, "limit": 4, "starter": 401, "unit": "statements"}
    )
    assert chart["scale"] == "log"
    bars = _bars(chart)
    assert bars["you"]["width"] >= 20  # 1 of 401 would be a sub-pixel sliver on a linear axis
    assert bars["you"]["width"] < bars["limit"]["width"] < bars["starter"]["width"]
    assert bars["you"]["text"] == "1 statement"
    assert bars["starter"]["text"] == "401 statements"


def test_values_of_one_order_keep_a_linear_scale():
    chart = evidence_chart({"name": "growth", "value": 3, "limit": 8, "starter": 40, "unit": "MB"})
    assert chart["scale"] == "linear"
    bars = _bars(chart)
    assert bars["you"]["x"] == CHART_LABEL
    assert bars["starter"]["text"] == "40 MB"


def test_a_count_that_is_zero_everywhere_is_not_charted():
    zero = evidence_chart({"name": "errors", "value": 0, "limit": 0, "unit": "errors"})
    assert zero["worth_drawing"] is False
    caught = evidence_chart({"name": "errors", "value": 0, "limit": 0, "starter": 58})
    assert caught["worth_drawing"] is True  # the starter's 58 is the evidence


def test_small_measurements_read_in_human_units():
    chart = evidence_chart({"name": "growth", "value": 6.1e-05, "limit": 3, "unit": "MB"})
    assert _bars(chart)["you"]["text"] == "64 bytes"


def _crosses(box: tuple[float, float, float, float], x: float, top: float, bottom: float) -> bool:
    """Whether a vertical line at ``x`` from ``top`` to ``bottom`` runs through ``box``."""
    left, box_top, right, box_bottom = box
    return left <= x <= right and box_top <= bottom and top <= box_bottom


def _metric(value: float, limit: float, starter: float, unit: str = "", **more) -> dict:
    return {
        "name": "figure",
        "value": value,
        "limit": limit,
        "starter": starter,
        "unit": unit,
        **more,
    }


LIMIT_CASES = {
    # the candidate's figure would start just left of the limit line and run across it
    "just under the limit": _metric(2.5, 3, 8, "MB"),
    "touching the limit": _metric(2.9, 3, 8, "MB"),
    # a negative figure beside the axis, the limit line close to the right of it
    "negative growth": _metric(-0.3, 3, 61, "MB"),
    # log scale: "1 statement" after a short bar, the limit of 3 right behind it
    "far apart": _metric(1, 3, 401, "statements"),
    "higher is better": _metric(9, 10, 1, "x", better="higher"),
    "far under the limit": _metric(4e-05, 0.05, 9e-05, "s"),
}


@pytest.mark.parametrize("metric", LIMIT_CASES.values(), ids=LIMIT_CASES.keys())
@pytest.mark.parametrize("measured", [True, False], ids=["reference measured", "no reference yet"])
def test_the_limit_line_and_the_axis_never_run_through_a_figure_or_a_row_name(metric, measured):
    if measured:
        metric = {**metric, "reference": metric["limit"] * 0.5}
    chart = evidence_chart(metric, subject="candidate", with_reference=True)
    lines = {"limit": chart["limit_x"], "axis": chart["zero"]}
    for row in chart["rows"]:
        for what, box in (("figure", row["text_box"]), ("name", row["label_box"])):
            for line, x in lines.items():
                assert not _crosses(box, x, chart["line_top"], chart["line_bottom"]), (
                    f"the {line} line at x={x} runs through the {row['label']} row's {what} "
                    f"{row['text'] if what == 'figure' else row['label']!r} at {box}"
                )
            assert box[0] >= 0 and box[2] <= chart["width"], f"{row['label']} {what} is cut off"


def test_a_figure_that_would_straddle_the_limit_moves_just_past_the_line():
    chart = evidence_chart({"name": "growth", "value": 2.5, "limit": 3, "starter": 8, "unit": "MB"})
    you = _bars(chart)["you"]
    beside_bar = you["x"] + you["width"] + TEXT_GAP
    width = you["text_box"][2] - you["text_box"][0]
    assert beside_bar < chart["limit_x"] < beside_bar + width  # "2.5 MB" there would straddle it
    assert you["text_x"] == round(chart["limit_x"] + TEXT_GAP, 1)


def test_a_figure_clear_of_the_limit_stays_beside_its_bar():
    chart = evidence_chart({"name": "growth", "value": 0.5, "limit": 3, "starter": 8, "unit": "MB"})
    you = _bars(chart)["you"]
    assert you["text_x"] == pytest.approx(you["x"] + you["width"] + TEXT_GAP)
    assert you["text_box"][2] < chart["limit_x"]
