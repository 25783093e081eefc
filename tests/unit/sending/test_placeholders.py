"""Personal values go only where the template put them, whatever the content holds (issue 19).

A digest is composed from articles, a newsletter and a reader holding generated text (with
every marker the service ever used mixed in), started as a real send, and personalized by the
worker's own code; the message is then read back as a mail client reads it: exactly the
intended headers, two body parts, and each of the reader's tokens exactly where the template
put it, nowhere else.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.extensions import db
from service.models import Article, Newsletter, Send, SendStatus, utcnow
from service.sending import batches, fanout
from service.sending.content import placeholders_of
from service.sending.personalize import LEGACY, Placeholders, Recipient, personalize
from tests.support.readers import add_reader
from tests.unit.mail.hostile import PIECES, read_back

# Every marker the service used, and the shapes of today's (their keys cannot be guessed).
MARKERS = [
    "NLxUNSUBxTOKEN",
    "NLxPREFSxTOKEN",
    "NLxREADERxNAME",
    "NLxTEXTxBODYxMARKER",
    "NLxHTMLxBODYxMARKER",
    "nl-recipient@placeholder.invalid",
    "To: nl-recipient@placeholder.invalid",
    "nl-message-id@placeholder.invalid",
    "NL0123456789abcdef0123456789abcdefUNSUB",
    "NL0123456789abcdef0123456789abcdefPREFS",
    "NL0123456789abcdef0123456789abcdefTEXT",
    "nl0123456789abcdef0123456789abcdefto@placeholder.invalid",
    "PREVIEW",
    "TEST",
]
HEADERS = [
    *("Subject", "From", "To", "Date", "Message-ID", "MIME-Version", "Content-Type"),
    *("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Feedback-ID"),
]
# Any text, marker-like text most of all: what a text column holds (no NUL, no lone surrogate).
content_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(MARKERS),
    st.lists(
        st.one_of(st.sampled_from(MARKERS), st.sampled_from(PIECES), st.text(max_size=4)),
        max_size=8,
    ).map("".join),
).map(lambda text: "".join(c for c in text if c != "\x00" and not "\ud800" <= c <= "\udfff"))
FAST = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@dataclass
class Story:
    """The text fields of one article."""

    title: str
    summary: str
    image: str
    link: str
    author: str
    section: str


stories = st.builds(
    Story, content_text, content_text, content_text, content_text, content_text, content_text
)


def started_send(name: str, stories: list[Story]) -> Send:
    """A newsletter called `name` with `stories` as new articles, and its send started."""
    slug = f"nl-{uuid.uuid4().hex[:8]}"
    news = Newsletter(slug=slug, name=name, filters={"authors": [slug]})
    db.session.add(news)
    db.session.commit()
    add_reader(news)  # a send with no confirmed reader is skipped before its content is made
    for n, story in enumerate(stories):
        db.session.add(
            Article(
                url=f"https://news.example.org/{uuid.uuid4().hex}/{story.link}",
                title=f"{story.title} {n}",
                summary_text=story.summary,
                image_url=f"https://img.example.net/{story.image}",
                authors=[slug, story.author],
                section=story.section,
                editors_pick=n == 2,
                published_at=utcnow() - timedelta(minutes=5 + n),
            )
        )
    send = Send(newsletter_id=news.id, status=SendStatus.SCHEDULED, scheduled_at=utcnow())
    db.session.add(send)
    db.session.commit()
    assert fanout.start_send(send.id)
    return db.session.get(Send, send.id, populate_existing=True)


def reader(name: str | None) -> Recipient:
    """A reader with tokens nobody could have typed into the content."""
    return Recipient(
        9, "olena@gmail.com", name, False, f"U{uuid.uuid4().hex}", f"P{uuid.uuid4().hex}"
    )


def assert_only_where_the_template_put_them(raw: bytes, who: Recipient, public: str) -> None:
    """Exactly the intended headers and parts; each token once where it belongs, nowhere else."""
    back = read_back(raw)
    assert sorted(back.names) == sorted(HEADERS), back.names
    assert back.raw["List-Unsubscribe"] == f"<{public}/unsubscribe/{who.unsubscribe_token}>"
    assert back.raw["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert back.message["To"].addresses[0].addr_spec == who.address
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8")
    assert head.count(who.unsubscribe_token) == 1 and who.preferences_token not in head
    leaves = [part for part in back.message.walk() if not part.is_multipart()]
    assert back.message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in leaves] == ["text/plain", "text/html"]
    for part in leaves:
        body = part.get_content()
        assert body.count(f"{public}/unsubscribe/{who.unsubscribe_token}") == 1
        assert body.count(f"{public}/preferences/{who.preferences_token}") == 1
        assert body.count(who.unsubscribe_token) == body.count(who.preferences_token) == 1
    assert _base64_lines_only(back.message)


def _base64_lines_only(message) -> bool:
    """Each body part is base64 through and through, and the parser found nothing amiss."""
    for part in message.walk():
        assert not part.defects, part.defects
        if not part.is_multipart():
            assert part["Content-Transfer-Encoding"] == "base64"
            base64.b64decode(re.sub(r"\s", "", part.get_payload()), validate=True)
    return True


@settings(max_examples=150, **FAST)
@given(
    name=content_text,
    reader_name=st.one_of(st.none(), content_text),
    stories=st.lists(stories, min_size=1, max_size=3),
)
@example(  # an image URL carrying the old markers: every reader's links to another host
    name="Daily",
    reader_name=None,
    stories=[Story("Kyiv", "", "p.png?u=NLxUNSUBxTOKEN&p=NLxPREFSxTOKEN", "", "", "")],
)
@example(  # a newsletter named like the old text body marker: List-Id swallowed the body
    name="NLxTEXTxBODYxMARKER", reader_name=None, stories=[Story("Kyiv", "", "", "", "", "")]
)
@example(  # a title ending in the old To line: the subject got the To line, a stray To stayed
    name="Daily",
    reader_name="Olena",
    stories=[Story("To: nl-recipient@placeholder.invalid", "", "", "", "", "")],
)
def test_any_content_yields_no_token_header_or_part_it_should_not(
    sqlite_app, name, reader_name, stories
):
    send = started_send(name, stories)
    who = reader(reader_name)
    raw = personalize(batches._template(send.id), send.id, who)
    assert_only_where_the_template_put_them(bytes(raw), who, sqlite_app.config["PUBLIC_URL"])


def test_placeholders_are_drawn_again_if_the_content_holds_them():
    keys = iter(["0" * 32, "1" * 32, "2" * 32])
    drawn = Placeholders.drawn(f"a title with {'0' * 32} and {'1' * 32}", lambda: next(keys))
    assert drawn == Placeholders(f"NL{'2' * 32}UNSUB", f"NL{'2' * 32}PREFS")
    assert Placeholders.drawn("") != Placeholders.drawn("")  # a fresh key for every send


def test_each_send_records_its_own_placeholders_none_of_them_fixed(sqlite_app):
    first = started_send("Daily", [Story("Kyiv", "", "", "", "", "")])
    second = started_send("Daily", [Story("Lviv", "", "", "", "", "")])
    one, two = (Placeholders.stored_in(send.content) for send in (first, second))
    assert len({one, two, LEGACY}) == 3
    assert one.unsubscribe in first.body_html and one.preferences in first.body_text
    assert not LEGACY.found_in(first.body_html + first.body_text)


def legacy_send(title: str) -> Send:
    """A send as started before per-send placeholders: fixed ones, nothing recorded."""
    send = started_send("Daily", [Story(title, "", "", "", "", "")])
    ours = Placeholders.stored_in(send.content)
    send.body_text = send.body_text.replace(ours.unsubscribe, LEGACY.unsubscribe).replace(
        ours.preferences, LEGACY.preferences
    )
    send.body_html = send.body_html.replace(ours.unsubscribe, LEGACY.unsubscribe).replace(
        ours.preferences, LEGACY.preferences
    )
    send.content = {k: v for k, v in send.content.items() if k != "placeholders"}
    db.session.commit()
    return send


def test_a_send_started_before_still_reaches_its_readers(sqlite_app):
    send = legacy_send("Kyiv")
    who = reader("Olena")
    raw = personalize(batches._template(send.id), send.id, who)
    assert_only_where_the_template_put_them(bytes(raw), who, sqlite_app.config["PUBLIC_URL"])


@pytest.mark.parametrize("title", ["NLxUNSUBxTOKEN", "see NLxPREFSxTOKEN here"])
def test_a_send_started_before_whose_content_holds_the_fixed_markers_is_refused(sqlite_app, title):
    send = legacy_send(title)
    newsletter = db.session.get(Newsletter, send.newsletter_id)
    with pytest.raises(ValueError, match="cannot be personalized safely"):
        placeholders_of(send, newsletter)
