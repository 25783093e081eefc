"""Charts drawn on the server as SVG (no script, no library): a newsletter's last thirty days
of signups and net growth as bars, from the daily figures (`service.daily`), never a count of
the readers. The same numbers go in a table beside each chart for screen readers and copying."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from service import daily
from service.extensions import db

DAYS = 30
WIDTH, HEIGHT, GAP = 300, 80, 2


@dataclass(frozen=True)
class Bar:
    """One day's bar: where it is drawn and what it says."""

    x: float
    y: float
    width: float
    height: float
    value: int
    day: str
    negative: bool


def _bars(days: list[dict[str, Any]], key: str) -> list[Bar]:
    """Bars for `key` over `days`, scaled to the chart; negative values hang below the axis."""
    values = [day[key] for day in days]
    top = max([1, *values])
    bottom = min([0, *values])
    span = top - bottom
    axis = HEIGHT * top / span
    width = WIDTH / len(days)
    bars = []
    for index, (day, value) in enumerate(zip(days, values, strict=True)):
        height = HEIGHT * abs(value) / span
        y = axis - height if value >= 0 else axis
        bars.append(
            Bar(index * width, y, max(width - GAP, 1), height, value, day["date"], value < 0)
        )
    return bars


def last_month(newsletter_id: int, today: datetime | None = None) -> dict[str, Any]:
    """A newsletter's last `DAYS` days: the series, the bars of signups and of net growth, the
    totals and the confirmation rate (confirmations per signup over the period)."""
    last = (today or datetime.now(UTC)).date()
    days = daily.series(db.session, newsletter_id, last - timedelta(days=DAYS - 1), last)
    totals = {name: sum(day[name] for day in days) for name in daily.COUNTS}
    rate = totals["confirmations"] / totals["signups"] if totals["signups"] else None
    return {
        "days": days,
        "signups": _bars(days, "signups"),
        "net": _bars(days, "net"),
        "totals": totals,
        "confirmation_rate": rate,
        "width": WIDTH,
        "height": HEIGHT,
    }
