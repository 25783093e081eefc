"""Times as the console shows them to staff: in a newsletter's own time zone, in words, in
the member's language ("Mon 8 Dec, 07:00 (Europe/Kyiv)"), and a cron schedule's next runs."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from croniter import croniter
from flask_babel import get_locale

from service.lists.newsletters import valid_cron

RUNS_SHOWN = 5
PATTERN = "EEE d MMM, HH:mm"
PATTERN_WITH_YEAR = "EEE d MMM y, HH:mm"  # a time in another year than today's says which


def zone_of(name: str | None) -> ZoneInfo | None:
    """The IANA zone called `name`, or None when there is no such zone."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return None


def in_words(when: datetime, zone_name: str, now: datetime | None = None) -> str:
    """`when` in the zone, as "Mon 8 Dec, 07:00 (Europe/Kyiv)" in the member's language; with
    the year ("Tue 1 Jan 2030, 06:45") when it is not this year (`now`'s) in that zone."""
    zone = zone_of(zone_name) or UTC
    local = when.astimezone(zone)
    this_year = (now or datetime.now(UTC)).astimezone(zone).year
    pattern = PATTERN if local.year == this_year else PATTERN_WITH_YEAR
    text = format_datetime(local, pattern, tzinfo=zone, locale=str(get_locale() or "en"))
    return f"{text} ({zone_name or 'UTC'})"


def stored_in_words(value: str | None, zone_name: str) -> str:
    """A stored ISO 8601 time in the zone, in words (a dash when there is none)."""
    if not value:
        return "—"
    return in_words(datetime.fromisoformat(value), zone_name)


def next_runs(
    cron: str | None, zone_name: str | None, now: datetime | None = None, count: int = RUNS_SHOWN
) -> list[str] | None:
    """The next `count` times a five-field cron schedule fires in the zone, in words; None
    when the schedule or the zone is not one the service accepts, [] when there is none."""
    if not cron or not cron.strip():
        return []
    zone = zone_of(zone_name)
    if zone is None or not valid_cron(cron):
        return None
    start = (now or datetime.now(UTC)).astimezone(zone)
    runs = croniter(" ".join(cron.split()), start)
    return [in_words(runs.get_next(datetime), str(zone_name), start) for _ in range(count)]
