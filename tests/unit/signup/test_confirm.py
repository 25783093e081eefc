"""Confirming a signup: the link confirms every pending subscription, once, and only while fresh."""

from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from service.addresses import parse_address
from service.extensions import db
from service.leaving import changes, suppression
from service.models import ConsentRecord, Subscriber, SubscriptionEvent, utcnow
from service.signup.accept import SignupRequest, subscribe
from service.signup.confirm import (
    TokenStale,
    confirm,
    confirmation_token,
    load_confirmation,
    resend_confirmation,
)
from service.tokens import TokenInvalid


@pytest.fixture
def reader(add_newsletter, sent_mail) -> Subscriber:
    """A reader signed up to two newsletters, their confirmation email sent."""
    add_newsletter("daily", name="Ukraine Daily")
    add_newsletter("explaining", name="Explaining Ukraine")
    subscribe(SignupRequest(parse_address("olena@gmail.com"), ("daily", "explaining")))
    return db.session.scalars(select(Subscriber)).one()


def _link_token(message) -> str:
    parsed = email.message_from_bytes(message.message, policy=email.policy.default)
    body = parsed.get_body(("plain",)).get_content()
    [url] = [word for word in body.split() if "/confirm/" in word]
    return url.rsplit("/confirm/", 1)[1]


def test_the_emailed_link_confirms_every_pending_subscription(reader, sent_mail):
    [message] = sent_mail
    assert "Ukraine Daily, Explaining Ukraine" in message.message.decode()
    result = confirm(_link_token(message), ip="192.0.2.7", user_agent="Firefox")
    assert result.changed
    assert [n.slug for n in result.newsletters] == ["daily", "explaining"]
    db.session.expire_all()
    assert [s.status for s in reader.subscriptions] == ["confirmed", "confirmed"]
    assert all(s.confirmed_at is not None for s in reader.subscriptions)
    assert reader.state_version == 1
    record = db.session.scalars(
        select(ConsentRecord).where(ConsentRecord.action == "confirm")
    ).one()
    assert (record.newsletters, record.ip, record.user_agent) == (
        "daily,explaining",
        "192.0.2.7",
        "Firefox",
    )


def test_confirming_again_changes_nothing(reader):
    token = confirmation_token(reader)
    confirm(token)
    events = db.session.scalars(select(SubscriptionEvent.id)).all()
    again = confirm(token)
    assert not again.changed
    assert [n.slug for n in again.newsletters] == ["daily", "explaining"]
    assert db.session.scalars(select(SubscriptionEvent.id)).all() == events
    assert reader.state_version == 1
    assert len(db.session.scalars(select(ConsentRecord.id)).all()) == 2  # signup, one confirm


def test_a_link_made_before_a_later_change_is_stale(reader, add_newsletter):
    token = confirmation_token(reader)
    assert changes.unsubscribe(reader.id, reader.subscriptions[0].newsletter_id, "link")
    with pytest.raises(TokenStale):
        confirm(token)
    db.session.expire_all()
    assert [s.status for s in reader.subscriptions] == ["unsubscribed", "pending"]
    assert confirm(confirmation_token(reader)).changed  # a fresh link still works


def test_a_tampered_token_or_an_erased_reader_is_invalid(reader):
    token = confirmation_token(reader)
    with pytest.raises(TokenInvalid):
        load_confirmation(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    db.session.delete(reader)
    db.session.commit()
    with pytest.raises(TokenInvalid, match="no such subscriber"):
        load_confirmation(token)


def test_resending_within_the_pause_sends_nothing_after_it_one(reader, sent_mail):
    resend_confirmation(reader.id)
    assert len(sent_mail) == 1
    with time_machine.travel(utcnow() + timedelta(seconds=601), tick=False):
        resend_confirmation(reader.id)
        resend_confirmation(reader.id)
        assert len(sent_mail) == 2
        assert confirm(_link_token(sent_mail[1])).changed  # the new email's link works


def test_nothing_is_resent_to_a_reader_with_nothing_pending(reader, sent_mail):
    confirm(confirmation_token(reader))
    with time_machine.travel(utcnow() + timedelta(hours=1), tick=False):
        resend_confirmation(reader.id)
        resend_confirmation(reader.id + 1)  # no such reader: silent
    assert len(sent_mail) == 1


def test_confirming_lifts_an_unsubscribe_all_but_never_a_manual_block(reader):
    token = confirmation_token(reader)
    suppression.suppress(reader.email_key, suppression.UNSUBSCRIBE_ALL)
    confirm(token)
    assert suppression.reason(reader.email_key) is None
    changes.unsubscribe_all(reader.id)
    suppression.suppress(reader.email_key, suppression.MANUAL, "abuse")
    db.session.expire_all()
    for subscription in reader.subscriptions:
        subscription.move_to("pending", "signup")
    db.session.commit()
    confirm(confirmation_token(reader))
    assert suppression.reason(reader.email_key) == suppression.MANUAL
