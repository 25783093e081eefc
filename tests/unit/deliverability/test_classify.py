"""Classes from the status code, whatever text surrounds it; hostile text stays one line."""

from __future__ import annotations

import logging
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.deliverability import brakes, classify
from service.deliverability.feedback import FeedbackEvent, record_feedback
from service.extensions import db
from service.models import FeedbackRecord

CODE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
codes = st.tuples(st.sampled_from("245"), st.integers(0, 999), st.integers(0, 999))


def test_known_codes_and_texts():
    cases = {
        ("5.1.1", ""): "hard",
        ("", "smtp; 550 5.1.1 <x@gmail.com>: Recipient address rejected"): "hard",
        ("550 5.1.10", ""): "hard",  # Outlook's RecipientNotFound
        ("", "552-5.2.2 The email account that you tried to reach is over quota"): "soft",
        ("5.2.2", ""): "soft",
        ("", "421 4.7.0 Try again later, closing connection"): "soft",
        ("", "550 5.7.515 Access denied, sending domain does not meet the required auth"): "policy",
        ("", "554 5.7.1 Message rejected as spam"): "policy",
        ("", "550 Requested action not taken: mailbox unavailable"): "soft",  # no enhanced code
        ("", "mailbox full"): "unknown",
        ("2.0.0", "delivered"): "unknown",
    }
    for (status, text), expected in cases.items():
        assert classify.classify("bounce", classify.status_code(status, text)) == expected
    assert classify.classify("complaint", "5.1.1") == "complaint"


def test_a_version_number_or_an_address_is_no_status_code():
    assert classify.status_code("", "Postfix 3.5.2.1 on mx 10.5.1.1") == ""
    assert classify.status_code("", "user 5.1.1x@example.org") == "5.1.1"  # at a word edge


def test_during_the_send_the_reply_class_wins_over_contradicting_text():
    assert classify.smtp_status(550, "5.1.1 No such user") == "5.1.1"
    assert classify.smtp_status(550, "said 4.2.2 earlier") == "5.0.0"
    assert classify.smtp_status(554, "5.7.1 rejected") == "5.7.1"


@given(codes)
def test_the_rules_hold_for_every_enhanced_code(parts):
    klass, subject, detail = parts
    code = classify.status_code(f"{klass}.{subject}.{detail}")
    found = classify.classify("bounce", code)
    if klass == "4":
        assert found == "soft"
    elif klass == "2":
        assert found == "unknown"
    elif subject == 7:
        assert found == "policy"
    elif subject == 1 or (subject, detail) == (2, 1):
        assert found == "hard"
    else:
        assert found == "soft"


@given(st.one_of(st.none(), st.integers(), st.text()), st.text())
def test_any_text_gives_a_code_or_nothing_and_a_known_class(status, text):
    code = classify.status_code(status, text)
    assert code == "" or CODE.fullmatch(code)
    assert classify.classify("bounce", code) in classify.CLASSES


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=3000),
    st.text(max_size=300),
)
def test_hostile_diagnostic_text_is_kept_as_one_cut_line(unit_app, caplog, diagnostic, event_id):
    caplog.set_level(logging.INFO, logger="service.deliverability")
    caplog.clear()
    try:
        outcome = record_feedback(
            FeedbackEvent(
                source="dsn",
                kind="bounce",
                provider_event_id=event_id + "\r\nX-Injected: 1",
                diagnostic=diagnostic,
                recipient="hostile@gmail.com",
            )
        )
    except ValueError:
        return  # an id of only invisible characters is refused, nothing stored
    row = db.session.get(FeedbackRecord, outcome.event_id) if outcome.created else None
    if row is not None:
        for value in (row.diagnostic, row.provider_event_id):
            assert not any(c in value for c in "\r\n\x00\x0b\x0c\x1b\u2028\u2029")
        assert len(row.diagnostic) <= 1000
    for record in caplog.records:
        assert "\n" not in record.getMessage() and "\r" not in record.getMessage()
    db.session.rollback()


def test_the_warning_and_the_brakes_levels(unit_app):
    none = {"complained": 0, "bounced_hard": 0, "refused_policy": 0}
    assert brakes.verdict(1000, 0, none) == (None, None)
    two = dict(none, complained=2)  # 0.2%: above the warning level, below the brake
    reason, warning = brakes.verdict(1000, 0, two)
    assert reason is None and warning == "complaint rate 0.2% is above 0.1%"
    four = dict(none, complained=4)
    assert (
        brakes.verdict(1000, 0, four)[0] == "complaint rate 0.4% passed 0.3% (4 of 1000 messages)"
    )
    assert brakes.verdict(200, 0, four)[0] is None  # fewer than BRAKE_MIN_MESSAGES (300) in
    bounced = dict(none, bounced_hard=40, refused_policy=20)  # 6% of 1000
    assert brakes.verdict(950, 50, bounced)[0].startswith("hard-bounce rate 6% passed 5%")
