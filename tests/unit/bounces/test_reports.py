"""Reading bounce mail: the MTAs' delivery reports, ARF complaints, and what is no bounce."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.bounces.reports import BOUNCE, COMPLAINT, IGNORED, read
from service.deliverability.classify import classify, status_code
from tests.support.dsn import SAMPLES, sample

VERP = "bounces+12-345-abcdefghijklmnop@bounces.news.example.org"
RCPT = "olena@example.com"
MSGID = "send-12-345@news.example.org"

EXPECTED = {  # sample -> (kind, class the intake gives it)
    "postfix-user-unknown.rfc822": (BOUNCE, "hard"),
    "exim-user-unknown.rfc822": (BOUNCE, "hard"),
    "exim-legacy.rfc822": (BOUNCE, "hard"),
    "exchange-recipient-not-found.rfc822": (BOUNCE, "hard"),
    "gmail-over-quota.rfc822": (BOUNCE, "soft"),
    "policy-rejected.rfc822": (BOUNCE, "policy"),
    "postfix-delayed.rfc822": (IGNORED, None),
    "arf-abuse.rfc822": (COMPLAINT, "complaint"),
    "arf-not-spam.rfc822": (IGNORED, None),
    "vacation.rfc822": (IGNORED, None),
    "vacation-subject-only.rfc822": (IGNORED, None),
}


def test_every_sample_is_expected():
    assert sorted(EXPECTED) == SAMPLES


@pytest.mark.parametrize("name", SAMPLES)
def test_each_sample_reads_as_its_mta_meant_it(name):
    reading = read(sample(name, verp=VERP, rcpt=RCPT, msgid=MSGID))
    kind, klass = EXPECTED[name]
    assert reading.kind == kind, reading
    if kind == IGNORED:
        return
    assert classify(kind, status_code(reading.status, reading.diagnostic)) == klass
    assert reading.report_id  # every report has its idempotency key
    assert RCPT in (reading.recipient or "")
    if name != "exim-legacy.rfc822":  # the old format returns the original as plain text
        assert reading.original_message_id == f"<{MSGID}>"


def test_exims_generic_status_gives_way_to_the_diagnostics_code():
    reading = read(sample("exim-user-unknown.rfc822", verp=VERP, rcpt=RCPT, msgid=MSGID))
    assert reading.status == "5.1.1"  # the report says 5.0.0, the diagnostic 550 5.1.1


def test_a_report_marked_auto_replied_is_still_a_report():
    """Postfix, Exim and Gmail mark their bounces `Auto-Submitted: auto-replied`."""
    raw = sample("postfix-user-unknown.rfc822", verp=VERP, rcpt=RCPT, msgid=MSGID)
    assert b"Auto-Submitted: auto-replied" in raw
    assert read(raw).kind == BOUNCE


def test_a_report_id_is_stable_and_falls_back_to_the_bytes():
    raw = sample("vacation.rfc822", verp=VERP, rcpt=RCPT, msgid=MSGID)
    assert read(raw).report_id == read(raw).report_id == "<ooo-20261207-77@mail.example.com>"
    bare = b"From: mailer-daemon@x.example\r\nSubject: failure\r\n\r\nhello\r\n"
    assert read(bare).report_id.startswith("sha256:")


def test_a_person_writing_to_the_bounce_address_is_no_bounce():
    raw = b"From: Olena <olena@example.com>\r\nSubject: Re: today\r\n\r\n550 5.1.1 ha\r\n"
    assert read(raw).kind == IGNORED


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_are_read_without_raising(raw):
    assert read(raw).kind in (BOUNCE, COMPLAINT, IGNORED)


hostile = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200)


@settings(max_examples=100, deadline=None)
@given(diagnostic=hostile, status=hostile, recipient=hostile)
def test_hostile_report_fields_are_read_as_cut_single_lines(diagnostic, status, recipient):
    raw = sample("postfix-user-unknown.rfc822", verp=VERP, rcpt=RCPT, msgid=MSGID)
    raw = raw.replace(b"Status: 5.1.1", b"Status: " + status.encode("utf-8", "replace"))
    raw = raw.replace(
        b"Final-Recipient: rfc822; " + RCPT.encode(), b"Final-Recipient: " + recipient.encode()
    )
    raw = raw.replace(b"Diagnostic-Code: smtp;", b"Diagnostic-Code: " + diagnostic.encode() + b";")
    reading = read(raw)
    for text in (reading.status, reading.diagnostic, reading.recipient or ""):
        assert "\r" not in text and "\n" not in text and len(text) <= 2000
