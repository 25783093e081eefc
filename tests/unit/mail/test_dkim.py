"""DKIM signatures made with `cryptography`, checked by dkimpy (another implementation).

The canonical forms are compared with dkimpy's on generated input; every kind of email
(confirmation, a digest's per-reader bytes, the test send) is signed and verifies with both
keys against the TXT records `newsletter dns` prints, hostile names and titles included; a
change on the way (body, a second From, the Feedback-ID) breaks the signature.
"""

from __future__ import annotations

import re

import pytest
from dkim.canonicalization import Relaxed
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service import mail_settings
from service.digests.compose import send_test_digest
from service.mail import RenderedEmail, dkim, feedback_id, newsletter_sender, transport
from service.mail.dkim import canonical_body, canonical_header
from service.models import Newsletter, SubscriptionStatus
from service.sending.personalize import LEGACY, Recipient, build_template, personalize
from service.signup.confirm import send_confirmation_email
from tests.support.dkim_keys import dkim_config, dns_of, verified
from tests.support.readers import add_reader
from tests.unit.mail.hostile import hostile_text
from tests.unit.mail.test_hostile_mail import INJECTION, make_article, make_newsletter

FIXTURES = dict(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
line = st.text(alphabet=" \tab=-", max_size=12).map(str.encode)


def signed_by(app, **extra) -> dkim.Signer:
    """Configure DKIM on `app` through the settings loader, as the start does."""
    app.config.update(mail_settings.load({}, {**dkim_config(), **extra}, app.config["MAIL_FROM"]))
    signer = dkim.signer()
    assert signer is not None
    return signer


def tags(message: bytes, index: int = 0) -> dict[str, str]:
    """The tags of the message's `index`-th DKIM-Signature."""
    found = re.findall(rb"^DKIM-Signature:(.*?)\r\n(?![ \t])", message, re.M | re.S)
    text = re.sub(r"\s+", "", found[index].decode())
    return dict(tag.split("=", 1) for tag in text.split(";") if tag)


@given(st.lists(line, max_size=8), st.sampled_from([b"", b"\r\n", b"\r\n\r\n", b" "]))
@example([b"a  b \t", b"", b"\t"], b"\r\n\r\n")
def test_the_relaxed_body_is_dkimpys(lines, end):
    body = b"\r\n".join(lines) + end
    assert canonical_body(body) == Relaxed.canonicalize_body(body)


@given(st.text(alphabet="AbZ-", min_size=1, max_size=8), st.lists(line, max_size=4))
def test_a_relaxed_header_is_dkimpys(name, parts):
    value = b"\r\n ".join(parts)
    [(theirs_name, theirs_value)] = Relaxed.canonicalize_headers([(name.encode(), value)])
    assert canonical_header(name.encode(), value) == theirs_name + b":" + theirs_value


def test_the_confirmation_email_is_signed_with_both_keys(unit_app, add_newsletter):
    signer = signed_by(unit_app)
    reader = add_reader(add_newsletter("daily"), status=SubscriptionStatus.PENDING)
    send_confirmation_email(reader.id)
    sent = transport().messages[-1]

    assert verified(sent.message, dns_of(signer)) == [True, True]
    rsa, ed = tags(sent.message, 0), tags(sent.message, 1)
    assert (rsa["a"], ed["a"]) == ("rsa-sha256", "ed25519-sha256")
    assert rsa["c"] == "relaxed/relaxed" and rsa["d"] == "news.example.org"
    assert rsa["h"].split(":") == [
        *("from", "from", "to", "to", "subject", "subject", "date", "message-id"),
    ]
    assert sent.sender == unit_app.config["MAIL_FROM"]  # the explicit envelope sender


def test_no_key_no_signature(unit_app, add_newsletter):
    reader = add_reader(add_newsletter("daily"), status=SubscriptionStatus.PENDING)
    send_confirmation_email(reader.id)
    assert b"DKIM-Signature" not in transport().messages[-1].message


@settings(max_examples=40, **FIXTURES)
@given(subject=hostile_text, letter=hostile_text, name=hostile_text, utf8=st.booleans())
@example(subject=INJECTION, letter=INJECTION, name="a\r\nBcc: x@y.z\r\n\r\nbody", utf8=False)
@example(subject=" \t lots   of\tspace  ", letter="Щоденні  новини", name="  ", utf8=True)
def test_every_readers_digest_verifies_whatever_the_names(unit_app, subject, letter, name, utf8):
    signer = signed_by(unit_app)
    news = Newsletter(id=7, slug="daily", name=letter, from_address="news@news.example.org")
    template = build_template(
        RenderedEmail(subject=subject, text="Hello  there. \t\n", html="<p>Hello.</p>"),
        sender=newsletter_sender(news),
        newsletter_id=news.id,
        placeholders=LEGACY,
        feedback_id=feedback_id(3, news.slug),
        signer=signer,
    )
    address = "читач@gmail.com" if utf8 else "olena@gmail.com"
    raw = bytes(personalize(template, 3, Recipient(9, address, name, utf8, "tok-9", "pref-9")))

    assert verified(raw, dns_of(signer)) == [True, True]
    signed = tags(raw)["h"].split(":")
    for field in ("list-id", "list-unsubscribe", "list-unsubscribe-post", "feedback-id"):
        assert signed.count(field) == 1
    assert raw.count(b"\r\nFeedback-ID: ") == 1
    sender_id = unit_app.config["FEEDBACK_ID_SENDER"]
    assert f"\r\nFeedback-ID: 3:daily:digest:{sender_id}\r\n".encode() in raw


@pytest.mark.parametrize(
    ("change", "old", "new"),
    [
        ("the body", b"SGVsbG8", b"SGVsbG9"),
        ("a second From", b"\r\nFrom:", b"\r\nFrom: Evil <e@evil.example>\r\nFrom:"),
        ("the Feedback-ID", b":daily:digest:", b":weekly:digest:"),
        ("the subject", b"Subject: Hi", b"Subject: Ho"),
    ],
)
def test_a_change_on_the_way_breaks_both_signatures(unit_app, change, old, new):
    signer = signed_by(unit_app)
    news = Newsletter(id=7, slug="daily", name="Daily", from_address="news@news.example.org")
    template = build_template(
        RenderedEmail(subject="Hi", text="Hello.", html="<p>Hello.</p>"),
        sender=newsletter_sender(news),
        newsletter_id=7,
        placeholders=LEGACY,
        feedback_id=feedback_id(3, "daily"),
        signer=signer,
    )
    raw = bytes(personalize(template, 3, Recipient(9, "o@gmail.com", None, False, "t", "p")))
    assert verified(raw, dns_of(signer)) == [True, True]
    assert old in raw
    assert verified(raw.replace(old, new, 1), dns_of(signer)) == [False, False], change


def test_the_test_send_is_signed(unit_app):
    signer = signed_by(unit_app, DKIM_ED25519_PRIVATE_KEY="")
    news = make_newsletter("Daily")
    make_article(news, f"{INJECTION} Kyiv")
    send_test_digest(news.id, "editor@gmail.com")
    sent = transport().messages[-1]
    assert verified(sent.message, dns_of(signer)) == [True]
    assert sent.sender == (news.from_address or unit_app.config["MAIL_FROM"])


def test_a_body_not_in_canonical_form_is_canonicalized_first(unit_app):
    signer = signed_by(unit_app)
    message = b"From: a@news.example.org\r\nSubject: x\r\n\r\nline  with \t space \r\n\r\n\r\n"
    assert verified(signer.sign(message) + message, dns_of(signer)) == [True, True]


@pytest.mark.parametrize("token", ["plain-token.x_y", "a token  with\tspace"])
def test_a_send_signed_by_its_plan_or_whole_verifies(unit_app, token):
    """The once-per-send plan fills in each reader's To line, Message-ID and token; a value
    it cannot fill in as it is (whitespace) is signed from the copy's own header block."""
    signer = signed_by(unit_app)
    news = Newsletter(id=7, slug="daily", name="Daily", from_address="news@news.example.org")
    template = build_template(
        RenderedEmail(subject="Hi", text="Hello.", html="<p>Hello.</p>"),
        sender=newsletter_sender(news),
        newsletter_id=7,
        placeholders=LEGACY,
        feedback_id=feedback_id(3, "daily"),
        signer=signer,
    )
    assert template.signing is not None
    for reader in range(1, 4):
        who = Recipient(reader, f"r{reader}@gmail.com", "Олена", False, token, "p")
        assert verified(bytes(personalize(template, 3, who)), dns_of(signer)) == [True, True]
