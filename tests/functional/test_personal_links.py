"""A reader's links stay in the reader's email, whatever the content holds: real sends (issue 19).

Production configuration (`APP_ENV=production`, limits on), a real Celery worker, Redis and an
aiosmtpd server on loopback that counts what arrives, on SQLite and PostgreSQL. Newsletters
are made and articles pushed through the admin API (or a polled feed), readers are
confirmed, a send is started through the API; then every message that arrived is read back
as a mail client reads it: one per reader, exactly the intended headers and two body parts,
and the reader's own tokens (which must load as theirs) only where the template put them.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import pytest
from flask import Flask
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from service.access.keys import create_api_key
from service.digests.feeds import import_feed
from service.extensions import db
from service.mail.headers import display_text
from service.models import Newsletter, Subscriber, utcnow
from service.sending.personalize import Recipient
from service.tokens import token_service
from tests.conftest import (
    RedisServer,
    app_for,
    migrate,
    scratch_postgres,
    stack_env,
    start_worker,
    stop_process,
)
from tests.support.readers import add_reader
from tests.support.smtp_server import SMTPServer
from tests.unit.mail.hostile import read_back
from tests.unit.sending.test_placeholders import (
    assert_only_where_the_template_put_them,
    content_text,
)

READERS = 2


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request, tmp_path_factory) -> Iterator[tuple[Flask, SMTPServer]]:
    """A production-configured app and worker with their own Redis, database and SMTP server."""
    tmp = tmp_path_factory.mktemp(f"links-{request.param}")
    with ExitStack() as stack:
        redis = RedisServer().start()
        stack.callback(redis.stop)
        smtp = stack.enter_context(SMTPServer())
        if request.param == "sqlite":
            url = f"sqlite:///{tmp / 'links.db'}"
        else:
            url = stack.enter_context(scratch_postgres())
        env = stack_env(url, f"{redis.url}/0", f"{redis.url}/1", smtp.url, tmp)
        env.update(APP_ENV="production", RATELIMIT_ENABLED="true")
        app = app_for(env, ENV="production", RATELIMIT_ENABLED=True, TESTING=False)
        migrate(app)
        worker = start_worker(env, tmp / "worker.log")
        stack.callback(stop_process, worker)
        with app.app_context():
            try:
                yield app, smtp
            finally:
                db.session.remove()
                db.engine.dispose()


def api(app: Flask, method: str, path: str, body: object) -> tuple[int, dict]:
    key = getattr(app, "_links_key", None) or create_api_key(f"links-{uuid.uuid4().hex[:6]}")
    app._links_key = key  # type: ignore[attr-defined]
    response = app.test_client().open(
        path, method=method, json=body, headers={"Authorization": f"Bearer {key}"}
    )
    return response.status_code, response.get_json()


def newsletter(app: Flask, name: str) -> Newsletter | None:
    """A newsletter made through the API (None if the API refuses the name)."""
    slug = f"nl-{uuid.uuid4().hex[:8]}"
    status, _ = api(app, "POST", "/api/v1/newsletters", {"slug": slug, "name": name})
    if status != 201:
        return None
    return db.session.query(Newsletter).filter_by(slug=slug).one()


def send_and_read(app: Flask, smtp: SMTPServer, news: Newsletter, names: list) -> None:
    """Confirm readers named `names`, send through the API, and check what each one got."""
    readers = [add_reader(news, name=name) for name in names]
    status, body = api(app, "POST", f"/api/v1/newsletters/{news.slug}/sends", {})
    assert status == 201, body
    deadline = time.monotonic() + 60
    while body["status"] not in ("sent", "failed", "cancelled", "skipped"):
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
        body = api(app, "GET", f"/api/v1/sends/{body['id']}", None)[1]
    assert (body["status"], body["sent"]) == ("sent", len(readers)), body
    public = app.config["PUBLIC_URL"]
    for reader in readers:
        [message] = [m for m in smtp.messages if m.recipients == (reader.email,)]
        who = tokens_of(message.data, reader, news, public)
        assert_only_where_the_template_put_them(message.data, who, public)
        assert read_back(message.data).shown("List-Id") == display_text(news.name)


def tokens_of(raw: bytes, reader: Subscriber, news: Newsletter, public: str) -> Recipient:
    """The tokens a message gives its reader, checked to be that reader's own."""
    back = read_back(raw)
    unsubscribe = back.raw["List-Unsubscribe"].removeprefix(f"<{public}/unsubscribe/")[:-1]
    text = back.message.get_body(("plain",)).get_content()
    [preferences] = re.findall(re.escape(f"{public}/preferences/") + r"(\S+)", text)
    assert token_service("unsubscribe").loads(unsubscribe) | {"a": 0} == {
        "s": reader.id,
        "n": news.id,
        "a": 0,
    }
    assert token_service("preferences").loads(preferences)["s"] == reader.id
    return Recipient(reader.id, reader.email, reader.name, False, unsubscribe, preferences)


def article(news: Newsletter, title: str, **fields: object) -> dict:
    return {
        "url": f"https://news.example.org/{uuid.uuid4().hex}",
        "title": title,
        "published_at": (utcnow() - timedelta(minutes=1)).isoformat(),
        **fields,
    }


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    name=content_text,
    title=content_text,
    summary=content_text,
    image=content_text,
    author=content_text,
    reader_names=st.lists(st.one_of(st.none(), content_text), min_size=READERS, max_size=READERS),
)
@example(  # every reader's links to another host the moment the email is opened
    name="Daily",
    title="Kyiv",
    summary="",
    image="p.png?u=NLxUNSUBxTOKEN&p=NLxPREFSxTOKEN",
    author="",
    reader_names=[None, "Olena"],
)
@example(  # the body spliced into List-Id, one-click unsubscribe gone for the whole list
    name="NLxTEXTxBODYxMARKER",
    title="Kyiv",
    summary="",
    image="",
    author="",
    reader_names=[None, None],
)
@example(  # the Subject got the reader's To line; a To line to nobody stayed
    name="Daily",
    title="To: nl-recipient@placeholder.invalid",
    summary="NLxREADERxNAME",
    image="",
    author="",
    reader_names=["Olena", None],
)
def test_whatever_the_api_is_given_each_reader_gets_only_their_links_where_they_belong(
    live, name, title, summary, image, author, reader_names
):
    app, smtp = live
    news = newsletter(app, name)
    assume(news is not None)
    fields = {"summary": summary, "authors": [author] if author.strip() else []}
    if image:
        fields["image_url"] = f"https://img.example.net/{image}"
    status, _ = api(app, "POST", "/api/v1/articles", article(news, title or "x", **fields))
    assume(status == 201)  # the API refused the text (an URL it cannot read): nothing sent
    send_and_read(app, smtp, news, reader_names)


def test_a_polled_feed_cannot_send_readers_links_elsewhere(live, tmp_path):
    app, smtp = live
    news = newsletter(app, "Feed Daily")
    when = utcnow().strftime("%a, %d %b %Y %H:%M:%S +0000")
    feed = tmp_path / "feed.xml"
    feed.write_text(
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        "<channel><title>t</title><link>https://news.example.org/</link><description>d"
        f"</description><item><title>NLxUNSUBxTOKEN</title><link>https://news.example.org/"
        f"{uuid.uuid4().hex}</link><pubDate>{when}</pubDate><description>NLxPREFSxTOKEN"
        '</description><media:content medium="image" url="https://img.example.net/'
        'i.png?u=NLxUNSUBxTOKEN&amp;p=NLxPREFSxTOKEN"/></item></channel></rss>',
        encoding="utf-8",
    )
    assert import_feed(str(feed)).count("created") == 1
    send_and_read(app, smtp, news, ["Olena", None])
