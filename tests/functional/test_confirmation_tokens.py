"""Confirmation links: tampered, expired, wrong purpose, replayed after a change, key rotation."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from service.addresses import parse_address
from service.extensions import db
from service.models import Newsletter, Subscriber, SubscriptionStatus, utcnow
from service.signup.accept import SignupRequest, subscribe
from service.signup.confirm import confirmation_token
from service.tokens import TokenExpired, TokenInvalid, TokenService, token_service
from tests.conftest import apply_signups_here, unique_email


@pytest.fixture
def reader(sqlite_app):
    db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
    db.session.commit()
    email = unique_email()
    subscribe(SignupRequest(address=parse_address(email), newsletters=["daily"]))
    apply_signups_here()
    return db.session.query(Subscriber).filter_by(email_key=email).one()


def test_tampered_token_gets_400_with_a_way_forward(sqlite_app, reader):
    token = confirmation_token(reader)
    web = sqlite_app.test_client()
    for bad in (token[:-2] + "xx", token + "a", "nonsense"):
        for method in (web.get, web.post):
            response = method(f"/confirm/{bad}")
            assert response.status_code == 400
            assert b'name="email"' in response.data  # offers a new link
    assert reader.subscriptions[0].status == SubscriptionStatus.PENDING


def test_expired_token_gets_410_and_changes_nothing(sqlite_app, reader):
    token = confirmation_token(reader)
    web = sqlite_app.test_client()
    max_age = sqlite_app.config["CONFIRM_TOKEN_MAX_AGE"]
    with time_machine.travel(utcnow() + timedelta(seconds=max_age + 60)):
        assert web.get(f"/confirm/{token}").status_code == 410
        response = web.post(f"/confirm/{token}")
        assert response.status_code == 410
        assert b"/resend" in response.data
    db.session.expire_all()
    assert reader.subscriptions[0].status == SubscriptionStatus.PENDING


def test_wrong_purpose_token_is_rejected(sqlite_app, reader):
    unsubscribe = token_service("unsubscribe").dumps({"s": reader.id, "v": reader.state_version})
    response = sqlite_app.test_client().post(f"/confirm/{unsubscribe}")
    assert response.status_code == 400
    with pytest.raises(TokenInvalid):
        token_service("confirm").loads(unsubscribe)


def test_token_cannot_be_replayed_after_the_subscription_changed(sqlite_app, reader):
    token = confirmation_token(reader)
    web = sqlite_app.test_client()
    assert web.post(f"/confirm/{token}").status_code == 200
    subscription = reader.subscriptions[0]
    subscription.status = SubscriptionStatus.UNSUBSCRIBED
    reader.state_version += 1
    db.session.commit()
    replay = web.post(f"/confirm/{token}")
    assert replay.status_code == 400
    db.session.expire_all()
    assert subscription.status == SubscriptionStatus.UNSUBSCRIBED


def test_keys_rotate_newest_signs_all_verify():
    old = TokenService(["old-key"], "confirm", 3600)
    rotated = TokenService(["new-key", "old-key"], "confirm", 3600)
    new_only = TokenService(["new-key"], "confirm", 3600)
    token = old.dumps({"s": 1})
    assert rotated.loads(token)["s"] == 1
    fresh = rotated.dumps({"s": 2})
    assert new_only.loads(fresh)["s"] == 2
    with pytest.raises(TokenInvalid):
        old.loads(fresh)


def test_expired_is_distinguished_from_invalid():
    service = TokenService(["k"], "confirm", 10)
    token = service.dumps({"s": 7})
    with time_machine.travel(utcnow() + timedelta(seconds=30)), pytest.raises(TokenExpired) as err:
        service.loads(token)
    assert err.value.payload["s"] == 7
