"""`POST /api/v1/articles` (CONTRACT §4): one article or a batch, 201 created / 200 updated."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from service.extensions import db
from service.models import Article


def _url() -> str:
    return f"https://news.example.org/api-test/{uuid.uuid4().hex[:10]}"


def test_requires_an_api_key(client):
    response = client.post("/api/v1/articles", json={"url": _url(), "title": "x"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "unauthorized"
    bad = client.post(
        "/api/v1/articles",
        json={"url": _url(), "title": "x"},
        headers={"Authorization": "Bearer nl_wrong"},
    )
    assert bad.status_code == 401


def test_one_article_created_then_updated(client, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    url = _url()
    body = {
        "title": "Air defense <b>news</b> & more",
        "url": url + "?utm_source=cms",
        "summary": "<p>Summary</p><script>alert(1)</script>",
        "image_url": "https://img.example.org/a.jpg",
        "authors": ["Kate Tsurkan"],
        "published_at": "2026-11-24T08:00:00+02:00",
        "section": "Politics",
        "editors_pick": True,
    }
    created = client.post("/api/v1/articles", json=body, headers=auth)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["url"] == url and created.get_json()["status"] == "created"
    updated = client.post("/api/v1/articles", json={**body, "title": "New title"}, headers=auth)
    assert updated.status_code == 200
    assert updated.get_json()["id"] == created.get_json()["id"]
    db.session.expire_all()
    article = db.session.scalar(select(Article).where(Article.url == url))
    assert article.title == "New title" and article.editors_pick is True
    assert "<script" not in article.summary_html and article.summary_text == "Summary"
    assert article.published_at.isoformat() == "2026-11-24T06:00:00+00:00"


def test_invalid_article_gets_the_error_shape(client, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    response = client.post("/api/v1/articles", json={"url": "nope", "title": "x"}, headers=auth)
    assert response.status_code == 422
    assert response.get_json() == {
        "status": "error",
        "code": "invalid_article",
        "field": "url",
        "message": "url must be an absolute http(s) URL",
    }
    malformed = client.post(
        "/api/v1/articles", data="{", content_type="application/json", headers=auth
    )
    assert malformed.status_code == 400 and malformed.get_json()["code"] == "bad_request"


def test_batch_reports_each_item(client, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    first, second = _url(), _url()
    response = client.post(
        "/api/v1/articles",
        json=[
            {"url": first, "title": "One"},
            {"url": second},
            {"url": first, "title": "One again"},
        ],
        headers=auth,
    )
    assert response.status_code == 201
    data = response.get_json()
    assert [r["status"] for r in data["results"]] == ["created", "error", "updated"]
    assert data["results"][1]["field"] == "title"
    assert (data["created"], data["updated"], data["errors"]) == (1, 1, 1)
    again = client.post("/api/v1/articles", json=[{"url": first, "title": "x"}], headers=auth)
    assert again.status_code == 200


def test_staff_preview_of_the_digest(client, api_key, newsletter):
    auth = {"Authorization": f"Bearer {api_key}"}
    section = f"section-{uuid.uuid4().hex[:8]}"
    letter = newsletter(filters={"sections": [section]})
    empty = client.get(f"/api/v1/digest-preview/{letter.slug}", headers=auth)
    assert empty.status_code == 404 and empty.get_json()["code"] == "no_articles"
    posted = client.post(
        "/api/v1/articles",
        json={"url": _url(), "title": "Preview <me> & you", "section": section},
        headers=auth,
    )
    assert posted.status_code == 201
    html = client.get(f"/api/v1/digest-preview/{letter.slug}", headers=auth)
    assert html.status_code == 200 and html.mimetype == "text/html"
    assert "Preview &lt;me&gt; &amp; you" in html.get_data(as_text=True)
    text = client.get(f"/api/v1/digest-preview/{letter.slug}?format=text", headers=auth)
    assert "Preview <me> & you" in text.get_data(as_text=True)
    assert client.get(f"/api/v1/digest-preview/{letter.slug}").status_code == 401


def _letter_with_article(client, auth, newsletter, title):
    section = f"section-{uuid.uuid4().hex[:8]}"
    letter = newsletter(filters={"sections": [section]})
    posted = client.post(
        "/api/v1/articles", json={"url": _url(), "title": title, "section": section}, headers=auth
    )
    assert posted.status_code == 201
    return letter


def test_send_a_test_digest_through_the_worker(client, api_key, newsletter, smtp):
    auth = {"Authorization": f"Bearer {api_key}"}
    address = f"editor.{uuid.uuid4().hex[:10]}@gmail.com"
    empty = newsletter(filters={"sections": ["nothing-here"]})
    skipped = client.post(
        f"/api/v1/digest-preview/{empty.slug}/test", json={"email": address}, headers=auth
    )
    assert skipped.status_code == 409 and skipped.get_json()["code"] == "no_articles"
    letter = _letter_with_article(client, auth, newsletter, "Test send & <check>")
    bad = client.post(
        f"/api/v1/digest-preview/{letter.slug}/test", json={"email": "a@localhost"}, headers=auth
    )
    assert bad.status_code == 422 and bad.get_json()["field"] == "email"
    queued = client.post(
        f"/api/v1/digest-preview/{letter.slug}/test", json={"email": address}, headers=auth
    )
    assert queued.status_code == 202 and queued.get_json()["status"] == "queued"
    received = smtp.wait_for_recipient(address, timeout=30)
    message = received[0].message
    assert message["Subject"].startswith("[TEST] ") and "Test send & <check>" in message["Subject"]
    assert message["List-Id"] == f"{letter.name} <{letter.slug}.news.example.org>"
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",)).get_content()
    assert "Test send &amp; &lt;check&gt;" in html
    assert "Test send & <check>" in message.get_body(("plain",)).get_content()


def test_cli_test_send(app, client, api_key, newsletter, smtp):
    auth = {"Authorization": f"Bearer {api_key}"}
    letter = _letter_with_article(client, auth, newsletter, "CLI test send")
    address = f"editor.{uuid.uuid4().hex[:10]}@gmail.com"
    result = app.test_cli_runner().invoke(args=["digest", "test", letter.slug, address])
    assert result.exit_code == 0, result.output
    assert f"test digest sent to {address}" in result.output
    assert smtp.wait_for_recipient(address)
