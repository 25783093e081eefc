"""Admin API: newsletters (list, create, update) and a reader's export and erasure."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import func, select

from service.extensions import db
from service.leaving.suppression import suppression_hash
from service.models import (
    ConsentRecord,
    Newsletter,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    Suppression,
)
from tests.conftest import unique_email, wait_for_signups


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def new_slug() -> str:
    return f"nl-{uuid.uuid4().hex[:8]}"


def signup(client, email: str, slug: str) -> int:
    response = client.post("/api/v1/subscriptions", json={"email": email, "newsletters": [slug]})
    assert response.status_code == 202, response.json
    wait_for_signups()
    return db.session.scalar(select(Subscriber.id).where(Subscriber.email_key == email.lower()))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/newsletters"),
        ("POST", "/api/v1/newsletters"),
        ("PATCH", "/api/v1/newsletters/daily"),
        ("GET", "/api/v1/subscribers/1/export"),
        ("DELETE", "/api/v1/subscribers/1"),
    ],
)
@pytest.mark.parametrize("header", [None, "Bearer nl_wrong", "Basic abc"])
def test_admin_endpoints_need_a_key(client, method, path, header):
    headers = {"Authorization": header} if header else {}
    response = client.open(path, method=method, headers=headers, json={})
    assert response.status_code == 401
    assert response.json["status"] == "error" and response.json["code"] == "unauthorized"


def test_create_list_and_update_newsletter(client, api_key):
    slug = new_slug()
    created = client.post(
        "/api/v1/newsletters",
        headers=auth(api_key),
        json={"slug": slug, "name": "Weekend Reads", "schedule": "0  8 * * 6"},
    )
    assert created.status_code == 201, created.json
    assert created.headers["Location"] == f"/api/v1/newsletters/{slug}"
    assert created.json["schedule"] == "0 8 * * 6"
    assert created.json["timezone"] == "Europe/Kyiv"
    assert created.json["min_new_articles"] == 1

    listed = client.get("/api/v1/newsletters", headers=auth(api_key))
    assert listed.status_code == 200
    assert slug in [n["slug"] for n in listed.json["newsletters"]]

    patched = client.patch(
        f"/api/v1/newsletters/{slug}",
        headers=auth(api_key),
        json={
            "name": "Weekend",
            "description": "Long reads",
            "schedule": "30 9 * * 0",
            "timezone": "America/New_York",
            "from": "weekend@kyivindependent.com",
            "min_new_articles": 3,
        },
    )
    assert patched.status_code == 200, patched.json
    db.session.remove()
    stored = db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))
    assert (stored.name, stored.description, stored.schedule_cron, stored.timezone) == (
        "Weekend",
        "Long reads",
        "30 9 * * 0",
        "America/New_York",
    )
    assert (stored.from_address, stored.min_new_articles) == ("weekend@kyivindependent.com", 3)


def test_patch_changes_only_given_fields(client, api_key, newsletter):
    item = newsletter(schedule_cron="0 7 * * *", timezone="Europe/Kyiv")
    response = client.patch(
        f"/api/v1/newsletters/{item.slug}", headers=auth(api_key), json={"min_new_articles": 0}
    )
    assert response.status_code == 200
    assert response.json["schedule"] == "0 7 * * *"
    assert response.json["min_new_articles"] == 0


def test_duplicate_slug_is_a_conflict(client, api_key, newsletter):
    item = newsletter()
    response = client.post(
        "/api/v1/newsletters", headers=auth(api_key), json={"slug": item.slug, "name": "Again"}
    )
    assert response.status_code == 409
    assert response.json["field"] == "slug"


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"schedule": "every morning"}, "schedule", "invalid_cron"),
        ({"schedule": "61 7 * * *"}, "schedule", "invalid_cron"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "invalid_timezone"),
        ({"timezone": "../etc/passwd"}, "timezone", "invalid_timezone"),
        ({"from": "not an address"}, "from", "invalid_email"),
        ({"min_new_articles": -1}, "min_new_articles", "invalid"),
        ({"min_new_articles": "3"}, "min_new_articles", "invalid"),
        ({"min_new_articles": True}, "min_new_articles", "invalid"),
        ({"name": ""}, "name", "invalid"),
        ({"colour": "red"}, "colour", "unknown_field"),
    ],
)
def test_invalid_fields_name_the_field(client, api_key, newsletter, body, field, code):
    item = newsletter(timezone="Europe/Kyiv")
    item_id = item.id
    response = client.patch(f"/api/v1/newsletters/{item.slug}", headers=auth(api_key), json=body)
    assert response.status_code == 422
    assert response.json["status"] == "error"
    assert (response.json["field"], response.json["code"]) == (field, code)
    assert response.json["message"]
    db.session.remove()
    assert db.session.get(Newsletter, item_id).timezone == "Europe/Kyiv"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "No slug"}, "slug"),
        ({"slug": "Has Spaces", "name": "x"}, "slug"),
        ({"slug": "-leading", "name": "x"}, "slug"),
        ({"slug": "ok-slug"}, "name"),
        ({"slug": "ok-slug", "name": "x", "timezone": "Nowhere/City"}, "timezone"),
    ],
)
def test_create_validates(client, api_key, body, field):
    response = client.post("/api/v1/newsletters", headers=auth(api_key), json=body)
    assert response.status_code == 422
    assert response.json["field"] == field


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '"text"'])
def test_bad_json_is_400(client, api_key, newsletter, data):
    item = newsletter()
    for method, path in [
        ("POST", "/api/v1/newsletters"),
        ("PATCH", f"/api/v1/newsletters/{item.slug}"),
    ]:
        response = client.open(
            path, method=method, headers=auth(api_key), data=data, content_type="application/json"
        )
        assert response.status_code == 400
        assert response.json["code"] == "bad_request"


def test_patch_unknown_newsletter_is_404(client, api_key):
    response = client.patch(
        f"/api/v1/newsletters/{new_slug()}", headers=auth(api_key), json={"name": "x"}
    )
    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_export_holds_all_personal_data(client, api_key, newsletter):
    slug = newsletter().slug
    email = unique_email()
    subscriber_id = signup(client, email, slug)

    response = client.get(f"/api/v1/subscribers/{subscriber_id}/export", headers=auth(api_key))
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.json
    assert data["id"] == subscriber_id and data["email"] == email
    assert data["subscriptions"] == [
        {
            "newsletter": slug,
            "status": "pending",
            "created_at": data["subscriptions"][0]["created_at"],
            "confirmed_at": None,
            "unsubscribed_at": None,
            "consent_source": None,
        }
    ]
    assert [(e["newsletter"], e["to_status"], e["cause"]) for e in data["events"]] == [
        (slug, "pending", "signup")
    ]
    [consent] = data["consent_records"]
    assert consent["action"] == "signup" and consent["newsletters"] == [slug]
    assert consent["ip"] == "127.0.0.1"


def test_export_unknown_subscriber_is_404(client, api_key):
    response = client.get("/api/v1/subscribers/987654321/export", headers=auth(api_key))
    assert response.status_code == 404
    assert response.json["status"] == "error"


def test_erase_keeps_only_the_address_hash(client, api_key, newsletter):
    slug = newsletter().slug
    email = unique_email()
    subscriber_id = signup(client, email, slug)
    subscription_ids = db.session.scalars(
        select(Subscription.id).where(Subscription.subscriber_id == subscriber_id)
    ).all()
    assert subscription_ids

    response = client.delete(f"/api/v1/subscribers/{subscriber_id}", headers=auth(api_key))
    assert response.status_code == 200
    assert response.json == {"id": subscriber_id, "status": "erased"}

    db.session.remove()
    assert db.session.get(Subscriber, subscriber_id) is None
    for model, column, ids in [
        (Subscription, Subscription.subscriber_id, [subscriber_id]),
        (ConsentRecord, ConsentRecord.subscriber_id, [subscriber_id]),
        (SubscriptionEvent, SubscriptionEvent.subscription_id, subscription_ids),
    ]:
        count = db.session.scalar(select(func.count()).select_from(model).where(column.in_(ids)))
        assert count == 0, model
    suppression = db.session.scalar(
        select(Suppression).where(Suppression.email_hash == suppression_hash(email.lower()))
    )
    assert suppression is not None and suppression.reason == "erased"
    assert email not in json.dumps([suppression.email_hash, suppression.detail])

    lookup = client.get("/api/v1/subscribers", query_string={"email": email}, headers=auth(api_key))
    assert lookup.json == {"subscribers": [], "next": None}
    again = client.delete(f"/api/v1/subscribers/{subscriber_id}", headers=auth(api_key))
    assert again.status_code == 404


def test_erase_keeps_a_stronger_suppression(client, api_key, newsletter):
    slug = newsletter().slug
    email = unique_email()
    subscriber_id = signup(client, email, slug)
    db.session.add(Suppression(email_hash=suppression_hash(email.lower()), reason="manual"))
    db.session.commit()

    response = client.delete(f"/api/v1/subscribers/{subscriber_id}", headers=auth(api_key))
    assert response.status_code == 200
    db.session.remove()
    reasons = db.session.scalars(
        select(Suppression.reason).where(Suppression.email_hash == suppression_hash(email.lower()))
    ).all()
    assert reasons == ["manual"]
