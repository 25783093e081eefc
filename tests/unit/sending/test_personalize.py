"""Per-reader substitution into prebuilt MIME bytes, and the unsubscribe headers it carries."""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from service.mail import RenderedEmail, newsletter_sender, wire
from service.sending import personalize as personalize_module
from service.sending.personalize import LEGACY, Body, Recipient, build_template, personalize


def daily_sender(name: str):
    news = SimpleNamespace(name=name, slug="daily", from_address="newsletter@news.example.org")
    return newsletter_sender(news)


def _message(sqlite_app, mailto: str) -> email.message.EmailMessage:
    sqlite_app.config["UNSUBSCRIBE_MAILTO"] = mailto
    sqlite_app.config["PUBLIC_URL"] = "https://news.example.org"
    template = build_template(
        RenderedEmail(subject="Ukraine Daily", text="Read on.", html="<p>Read on.</p>"),
        sender=daily_sender(name="Ukraine Daily"),
        newsletter_id=1,
        placeholders=LEGACY,
    )
    reader = Recipient(
        subscriber_id=7,
        address="olena@gmail.com",
        name="Olena\r\nBcc: x@y.org",
        smtputf8=False,
        unsubscribe_token="tok-7",
        preferences_token="pref-7",
    )
    raw = personalize(template, 3, reader)
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_one_click_headers_with_the_readers_token(sqlite_app):
    message = _message(sqlite_app, "")
    assert message["List-Unsubscribe"] == "<https://news.example.org/unsubscribe/tok-7>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Bcc"] is None and message["To"].addresses[0].addr_spec == "olena@gmail.com"


def test_mailto_is_added_when_an_inbound_address_is_configured(sqlite_app):
    message = _message(sqlite_app, "unsubscribe@news.example.org")
    assert message["List-Unsubscribe"] == (
        "<https://news.example.org/unsubscribe/tok-7>, "
        "<mailto:unsubscribe@news.example.org?subject=unsubscribe-tok-7>"
    )


def test_messages_are_already_in_smtp_data_form(sqlite_app):
    """Dots at line starts and bare line ends in the content or the name never reach the
    wire form: the SMTP transport sends personalized messages without re-scanning them."""
    sqlite_app.config["UNSUBSCRIBE_MAILTO"] = ""
    template = build_template(
        RenderedEmail(subject=".Daily " * 20, text=".top\n.\nend", html="<p>\n.x</p>"),
        sender=daily_sender(name="Daily"),
        newsletter_id=1,
        placeholders=LEGACY,
    )
    reader = Recipient(7, "olena@gmail.com", ".Olena\r\n.Bcc: x@y.org", False, "a.b.c", "d.e")
    raw = personalize(template, 3, reader)
    assert type(raw) is wire.DataBytes  # trusted by the transport without a scan
    assert wire.is_prepared(bytes(raw))  # and rightly so
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_body(("plain",)).get_content().startswith(".top\n.\nend")
    assert message["To"].addresses[0].display_name.startswith(".Olena")

    broken = dataclasses.replace(reader, unsubscribe_token="a\n.b")  # never from itsdangerous
    raw = personalize(template, 3, broken)
    assert type(raw) is bytes and wire.prepare(raw) != raw  # so the transport stuffs it


def test_bodies_are_base64_in_76_character_lines():
    text = "Привіт, читачу! " * 40
    assert personalize_module._b64(text.encode()) == base64.encodebytes(text.encode()).replace(
        b"\n", b"\r\n"
    ).rstrip(b"\r\n")


def encodebytes(text: str) -> bytes:
    return base64.encodebytes(text.encode()).replace(b"\n", b"\r\n").rstrip(b"\r\n")


@settings(max_examples=300)
@given(
    pieces=st.lists(st.text(max_size=150), min_size=1, max_size=5),
    slots=st.lists(st.sampled_from(["u", "p"]), max_size=4),
    unsubscribe=st.text(alphabet="abcXYZ0123456789-_.", max_size=120),
)
def test_a_body_encoded_once_up_to_its_first_slot_is_base64_of_the_whole(
    pieces, slots, unsubscribe
):
    stand_ins = {"u": "NLkeyUNSUB", "p": "NLkeyPREFS"}
    text = pieces[0] + "".join(stand_ins[s] + p for s, p in zip(slots, pieces[1:], strict=False))
    body = Body.of(text, {b"NLkeyUNSUB": "unsub", b"NLkeyPREFS": "prefs"})
    filled = text.replace("NLkeyUNSUB", unsubscribe).replace("NLkeyPREFS", "pref-7")
    assert body.encoded({"unsub": unsubscribe.encode(), "prefs": b"pref-7"}) == encodebytes(filled)
