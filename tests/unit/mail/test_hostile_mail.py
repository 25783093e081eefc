"""End to end: hostile names and titles through the real builder of every email.

The confirmation email, the digest's per-reader bytes and the test send are built by the
code that sends them, from rows holding generated hostile text, and read back as a client
reads them: exactly the headers intended, one To, no Bcc, the intended display text. The
last test sends a real digest and a test copy (`newsletter digest test`) through aiosmtpd and
compares their From and List-Id.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.digests.compose import compose, send_test_digest
from service.extensions import db
from service.leaving.manage_link import send_manage_link_email
from service.mail import RenderedEmail, newsletter_sender, transport
from service.mail.headers import display_text
from service.models import (
    Article,
    BatchStatus,
    Newsletter,
    Send,
    SendBatch,
    SendStatus,
    SubscriptionStatus,
)
from service.models.base import utcnow
from service.sending import batches, fanout
from service.sending.personalize import LEGACY, Recipient, build_template, personalize
from service.signup.confirm import send_confirmation_email
from tests.support.readers import add_reader
from tests.support.smtp_server import SMTPServer
from tests.unit.mail.hostile import hostile_text, read_back

INJECTION = "=?utf-8?q?x=0D=0ABcc:_someone@example.net?="
MARK = "Zq7TypedName"  # put into every typed name, to find it wherever it went
db_text = hostile_text.map(  # what a text column holds: no NUL, no lone surrogate, 200 chars
    lambda text: "".join(c for c in text[:200] if c != "\x00" and not "\ud800" <= c <= "\udfff")
)
COMMON = ("Subject", "From", "To", "Date", "Message-ID", "MIME-Version", "Content-Type")
FIXTURES = dict(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def make_newsletter(name: str, **fields: object) -> Newsletter:
    slug = f"nl-{uuid.uuid4().hex[:8]}"
    item = Newsletter(slug=slug, name=name, filters={"sections": [slug]}, **fields)
    db.session.add(item)
    db.session.commit()
    return item


def make_article(newsletter: Newsletter, title: str) -> Article:
    key = uuid.uuid4().hex[:10]
    article = Article(
        url=f"https://news.example.org/{key}",
        title=title,
        summary_text="A summary.",
        section=newsletter.filters["sections"][0],
        published_at=utcnow() - timedelta(minutes=5),
    )
    db.session.add(article)
    db.session.commit()
    return article


def bodies(message) -> str:
    return "\n".join(part.get_content() for part in message.walk() if not part.is_multipart())


# -- the confirmation email --------------------------------------------------------------


@settings(max_examples=30, **FIXTURES)
@given(name=db_text, letter=db_text)
@example(name=INJECTION, letter=INJECTION)
@example(name="Olena <script>", letter="Daily")
def test_the_confirmation_email_carries_no_typed_name(sqlite_app, name, letter):
    news = make_newsletter(letter)
    reader = add_reader(news, name=f"{name} {MARK}", status=SubscriptionStatus.PENDING)
    send_confirmation_email(reader.id)
    sent = transport().messages[-1]
    back = read_back(sent.message)
    config = sqlite_app.config

    assert sent.recipients == (reader.email_ascii,) and sent.sender == config["MAIL_FROM"]
    assert sorted(back.names) == sorted([*COMMON, "Auto-Submitted"])
    [to] = back.message["To"].addresses
    assert to.addr_spec == reader.email_ascii and back.shown("To") == ""  # no display name
    [sender] = back.message["From"].addresses
    assert sender.addr_spec == config["MAIL_FROM"]
    assert back.shown("From") == display_text(config["PUBLISHER_NAME"])
    assert back.shown("Subject") == display_text(f"Confirm your subscription to {letter}")
    assert MARK not in sent.message.decode("ascii") and MARK not in bodies(back.message)


@pytest.mark.parametrize("status", [SubscriptionStatus.PENDING, SubscriptionStatus.CONFIRMED])
def test_the_preference_link_email_carries_no_typed_name_either(sqlite_app, status):
    """Anyone can ask for it by typing an address on /manage."""
    reader = add_reader(make_newsletter("Daily"), name=f"{INJECTION} {MARK}", status=status)
    send_manage_link_email(reader.id)
    sent = transport().messages[-1]
    back = read_back(sent.message)
    assert back.raw["To"] == reader.email_ascii and "Bcc" not in back.names
    assert MARK not in sent.message.decode("ascii") and MARK not in bodies(back.message)


# -- the digest's per-reader bytes -------------------------------------------------------


@settings(max_examples=60, **FIXTURES)
@given(subject=hostile_text, letter=hostile_text, name=hostile_text, utf8=st.booleans())
@example(subject=INJECTION, letter=INJECTION, name=INJECTION, utf8=False)
def test_each_readers_digest_has_exactly_the_intended_headers(
    sqlite_app, subject, letter, name, utf8
):
    news = Newsletter(id=7, slug="daily", name=letter, from_address="news@news.example.org")
    sender = newsletter_sender(news)
    template = build_template(
        RenderedEmail(subject=subject, text="Hello.", html="<p>Hello.</p>"),
        sender=sender,
        newsletter_id=news.id,
        placeholders=LEGACY,
    )
    address = "читач@gmail.com" if utf8 else "olena@gmail.com"
    raw = personalize(template, 3, Recipient(9, address, name, utf8, "tok-9", "pref-9"))
    back = read_back(bytes(raw))

    assert sorted(back.names) == sorted(
        [*COMMON, "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"]
    )
    [to] = back.message["To"].addresses
    assert to.addr_spec == address and back.shown("To") == display_text(name)
    assert back.message["From"].addresses[0].addr_spec == "news@news.example.org"
    assert back.shown("From") == display_text(letter)
    assert back.shown("Subject") == display_text(subject)
    assert back.shown("List-Id") == display_text(letter)
    assert back.raw["List-Id"].endswith("<daily.news.example.org>")
    public = sqlite_app.config["PUBLIC_URL"]
    assert back.raw["List-Unsubscribe"] == f"<{public}/unsubscribe/tok-9>"
    assert back.message["Message-ID"] == "<send-3-9@news.example.org>"


# -- the test send -----------------------------------------------------------------------


@settings(max_examples=25, **FIXTURES)
@given(title=db_text.filter(lambda text: text.strip()), letter=db_text)
@example(title=INJECTION, letter=INJECTION)
def test_the_test_send_has_exactly_the_intended_headers(sqlite_app, title, letter):
    news = make_newsletter(letter)
    make_article(news, title)
    content = compose(news)
    send_test_digest(news.id, "editor@gmail.com")
    sent = transport().messages[-1]
    back = read_back(sent.message)

    assert sent.recipients == ("editor@gmail.com",)
    assert sorted(back.names) == sorted([*COMMON, "List-Id", "X-Digest-Test"])
    assert back.raw["To"] == "editor@gmail.com"
    assert back.shown("Subject") == display_text(f"[TEST] {content.subject}")
    assert back.shown("From") == back.shown("List-Id") == display_text(letter)


# -- a real send and its test copy, through aiosmtpd -------------------------------------


@pytest.mark.parametrize("letter", ["Daily News", INJECTION, 'Щоденні "новини", 7:00'])
def test_a_real_send_and_the_cli_test_send_carry_the_same_list_id_and_from(sqlite_app, letter):
    with SMTPServer() as server:
        sqlite_app.config.update(MAIL_URL=server.url, SEND_CONNECTIONS=1)
        news = make_newsletter(letter)
        make_article(news, f"{INJECTION} Kyiv today")
        reader = add_reader(news, name=f"{INJECTION} Olena", status=SubscriptionStatus.CONFIRMED)
        send = Send(newsletter_id=news.id, status=SendStatus.SCHEDULED, scheduled_at=utcnow())
        db.session.add(send)
        db.session.commit()
        assert fanout.start_send(send.id)
        batch = SendBatch(send_id=send.id, after_id=0, upto_id=reader.id)
        batch.status = BatchStatus.PENDING
        db.session.add(batch)
        db.session.commit()
        batches.run_batch(batch.id)
        [real] = server.wait_for_recipient(reader.email)
        cli = sqlite_app.test_cli_runner().invoke(
            args=["digest", "test", news.slug, "editor@gmail.com"]
        )
        assert cli.exit_code == 0, cli.output
        [test] = server.wait_for_recipient("editor@gmail.com")

    real_back, test_back = read_back(real.data), read_back(test.data)
    for back in (real_back, test_back):
        assert back.names.count("To") == 1 and "Bcc" not in back.names
        assert back.shown("From") == display_text(letter)
        assert back.shown("Subject").endswith(f"{INJECTION} Kyiv today")
    assert real_back.raw["List-Id"] == test_back.raw["List-Id"]
    assert real_back.raw["From"] == test_back.raw["From"]
    assert real_back.shown("To") == f"{INJECTION} Olena" and real.recipients == (reader.email,)
