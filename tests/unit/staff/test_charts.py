"""The dashboard's bars: scaled to the chart, negative days hanging below the axis."""

from __future__ import annotations

from service.console.charts import HEIGHT, WIDTH, _bars


def days(*values: int) -> list[dict]:
    return [{"date": f"2026-12-{n + 1:02}", "net": v} for n, v in enumerate(values)]


def test_the_tallest_bar_fills_the_chart_and_the_bars_share_its_width():
    bars = _bars(days(0, 2, 4), "net")
    assert [b.height for b in bars] == [0, HEIGHT / 2, HEIGHT]
    assert bars[2].y == 0 and bars[1].y == HEIGHT / 2
    assert bars[-1].x + bars[-1].width <= WIDTH


def test_a_negative_day_hangs_below_the_axis():
    up, down = _bars(days(3, -1), "net")
    axis = HEIGHT * 3 / 4
    assert (up.y, up.height, up.negative) == (0, axis, False)
    assert (down.y, down.height, down.negative) == (axis, HEIGHT / 4, True)


def test_a_month_without_a_change_draws_flat_bars():
    assert {b.height for b in _bars(days(0, 0, 0), "net")} == {0}
