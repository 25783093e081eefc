"""The daily figures' rules: what each status change counts, and `from`/`to` of the stats
endpoint as untrusted text (a series or a 422 naming the field, never a 500)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.access.keys import create_api_key
from service.daily import classify

STATUSES = [None, "pending", "confirmed", "unsubscribed", "bounced"]


@pytest.mark.parametrize(
    ("before", "after", "cause", "counts"),
    [
        (None, "pending", "signup", {"signups": 1}),
        (None, "confirmed", "import", {"signups": 1, "confirmations": 1, "net": 1}),
        ("pending", "confirmed", "confirm", {"confirmations": 1, "net": 1}),
        ("confirmed", "unsubscribed", "link", {"unsubscribes": 1, "net": -1}),
        ("pending", "unsubscribed", "link", {"unsubscribes": 1}),
        ("pending", "unsubscribed", "expired", {}),
        ("confirmed", "unsubscribed", "complaint", {"complaints": 1, "net": -1}),
        ("confirmed", "bounced", "bounce", {"bounces": 1, "net": -1}),
        ("unsubscribed", "pending", "signup", {"signups": 1}),
        ("unsubscribed", "confirmed", "undo", {"signups": 1, "confirmations": 1, "net": 1}),
    ],
)
def test_each_change_counts_what_it_is(before, after, cause, counts):
    assert {k: v for k, v in classify(before, after, cause).items() if v} == counts


@given(st.sampled_from(STATUSES), st.sampled_from(STATUSES[1:]))
def test_net_is_the_change_in_confirmed_readers(before, after):
    net = classify(before, after)["net"]
    assert net == (after == "confirmed") - (before == "confirmed")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(field=st.sampled_from(["from", "to"]), text=st.text(max_size=40))
def test_any_text_in_from_or_to_is_a_series_or_a_422(unit_app, add_newsletter, field, text):
    if not hasattr(unit_app, "_stats_key"):
        add_newsletter("daily")
        unit_app._stats_key = create_api_key("stats", ["read"])
    answer = unit_app.test_client().get(
        "/api/v1/newsletters/daily/stats",
        query_string={field: text},
        headers={"Authorization": f"Bearer {unit_app._stats_key}"},
    )
    assert answer.status_code in (200, 400, 422), answer.get_data()[:200]
    if answer.status_code == 422:
        assert answer.json["field"] in ("from", "to")
    if answer.status_code == 200:
        assert 1 <= len(answer.json["days"]) <= 366
