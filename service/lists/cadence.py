"""A newsletter's schedule in words for readers ("Daily at 07:00"), in their language."""

from __future__ import annotations

from flask_babel import force_locale, lazy_gettext
from flask_babel import gettext as _

from service.models import Newsletter

_DAYS = {"0": 6, "7": 6, "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5}
_WEEKDAYS = [
    lazy_gettext("Monday"),
    lazy_gettext("Tuesday"),
    lazy_gettext("Wednesday"),
    lazy_gettext("Thursday"),
    lazy_gettext("Friday"),
    lazy_gettext("Saturday"),
    lazy_gettext("Sunday"),
]


def cadence(newsletter: Newsletter, locale: str) -> str:
    """A short human description of a newsletter's cron schedule ("Daily at 07:00")."""
    with force_locale(locale):
        return _cadence(newsletter.schedule_cron)


def _cadence(cron: str | None) -> str:
    fields = (cron or "").split()
    if len(fields) != 5:
        return _("From time to time")
    minute, hour, day, month, weekday = fields
    if not (minute.isdigit() and hour.isdigit()) or day != "*" or month != "*":
        return _("On a regular schedule")
    at = f"{int(hour):02d}:{int(minute):02d}"
    if weekday == "*":
        return _("Daily at %(time)s", time=at)
    if weekday in {"1-5", "mon-fri", "MON-FRI"}:
        return _("Weekdays at %(time)s", time=at)
    if weekday in _DAYS:
        day_name = str(_WEEKDAYS[_DAYS[weekday]])
        return _("Every %(day)s at %(time)s", day=day_name, time=at)
    return _("On a regular schedule")
