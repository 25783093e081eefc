"""A newsletter's schedule as the console writes it: the next runs in its own time zone, in
words and in the member's language, across a change of clocks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask_babel import force_locale
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.console.clock import in_words, next_runs

# Kyiv moves its clocks forward at 03:00 on the last Sunday of March (29 March 2026).
BEFORE_SPRING = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def context(unit_app):
    with unit_app.test_request_context():
        yield


def test_the_runs_keep_their_local_hour_across_the_change_of_clocks(context):
    runs = next_runs("0 7 * * *", "Europe/Kyiv", now=BEFORE_SPRING)
    assert runs == [f"{day}, 07:00 (Europe/Kyiv)" for day in
                    ("Sat 28 Mar", "Sun 29 Mar", "Mon 30 Mar", "Tue 31 Mar", "Wed 1 Apr")]  # fmt: skip


def test_the_runs_are_written_in_the_members_language(context):
    with force_locale("uk"):
        runs = next_runs("30 18 * * 5", "America/New_York", now=BEFORE_SPRING)
    assert runs[0] == "пт 27 бер., 18:30 (America/New_York)"


def test_no_schedule_is_no_runs_and_a_bad_one_is_none(context):
    assert next_runs("", "Europe/Kyiv") == []
    assert next_runs("0 0 7 * * *", "Europe/Kyiv") is None  # six fields: seconds first
    assert next_runs("0 7 * * *", "Europe/Atlantis") is None


def test_a_stored_time_is_written_in_the_newsletters_zone(context):
    now = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    assert in_words(datetime(2026, 12, 8, 5, 0, tzinfo=UTC), "Europe/Kyiv", now) == "Tue 8 Dec, 07:00 (Europe/Kyiv)"  # fmt: skip


def test_a_time_in_another_year_says_which_year(context):
    """A send scheduled for 2030 read "Tue 1 Jan, 06:45": as if it were next month."""
    now = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
    assert in_words(datetime(2030, 1, 1, 4, 45, tzinfo=UTC), "Europe/Kyiv", now) == "Tue 1 Jan 2030, 06:45 (Europe/Kyiv)"  # fmt: skip
    assert in_words(datetime(2025, 12, 8, 5, 0, tzinfo=UTC), "Europe/Kyiv", now).startswith("Mon 8 Dec 2025, ")  # fmt: skip
    # New Year's Eve in UTC is already the new year in Kyiv: the year is the zone's
    eve = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert in_words(eve, "Europe/Kyiv", now) == "Fri 1 Jan 2027, 01:30 (Europe/Kyiv)"
    assert in_words(eve, "UTC", now) == "Thu 31 Dec, 23:30 (UTC)"


def test_the_runs_over_new_year_name_the_new_year(context):
    runs = next_runs("0 9 * * 6", "Europe/Kyiv", now=datetime(2026, 12, 20, 12, 0, tzinfo=UTC))
    assert runs[:3] == ["Sat 26 Dec, 09:00 (Europe/Kyiv)", "Sat 2 Jan 2027, 09:00 (Europe/Kyiv)",
                        "Sat 9 Jan 2027, 09:00 (Europe/Kyiv)"]  # fmt: skip


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # the app is only read
@given(cron=st.text(max_size=30), zone=st.text(max_size=30))
def test_any_text_gives_runs_or_none_never_an_error(unit_app, cron, zone):
    with unit_app.test_request_context():
        runs = next_runs(cron, zone, now=BEFORE_SPRING)
    assert runs is None or isinstance(runs, list)
