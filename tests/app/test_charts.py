"""Evidence charts: every bar visible, numbers in human units, no chart that says nothing."""

from __future__ import annotations

from app.charts import CHART_LABEL, evidence_chart


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
