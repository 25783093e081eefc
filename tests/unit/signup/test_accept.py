"""Accepting a signup: one stored job, applied once, one confirmation email, no enumeration."""

from __future__ import annotations

import email
import email.policy

import pytest
from sqlalchemy import func, select

from service.addresses import parse_address
from service.extensions import db
from service.models import JobStatus, Newsletter, OutboxJob, Subscriber, Subscription
from service.signup.accept import SignupRequest, UnknownNewsletter, subscribe
from service.task_names import TaskName


@pytest.fixture
def daily(unit_app) -> Newsletter:
    newsletter = Newsletter(slug="daily", name="Ukraine Daily")
    db.session.add(newsletter)
    db.session.commit()
    return newsletter


def _signup(address: str, *slugs: str, name: str | None = None) -> None:
    subscribe(SignupRequest(parse_address(address), slugs or ("daily",), name=name))


def test_a_signup_is_applied_and_confirmed_by_email_once(daily, sent_mail):
    _signup("Olena.K@gmail.com", name="Olena")
    [reader] = db.session.scalars(select(Subscriber)).all()
    assert (reader.email, reader.email_key) == ("Olena.K@gmail.com", "olena.k@gmail.com")
    assert [s.status for s in reader.subscriptions] == ["pending"]
    [message] = sent_mail
    assert message.recipients == ("Olena.K@gmail.com",)
    parsed = email.message_from_bytes(message.message, policy=email.policy.default)
    assert "/confirm/" in parsed.get_body(("plain",)).get_content()
    jobs = db.session.execute(select(OutboxJob.task, OutboxJob.status, OutboxJob.payload)).all()
    assert sorted(jobs) == [
        (TaskName.SEND_CONFIRMATION, JobStatus.DONE, {"subscriber_id": reader.id}),
        (TaskName.APPLY_SIGNUPS, JobStatus.DONE, {}),  # applied: no copy of the data kept
    ]


def test_the_same_address_again_gets_no_second_email_within_the_pause(daily, sent_mail):
    _signup("olena@gmail.com")
    _signup("OLENA@gmail.com")
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == 1
    assert len(sent_mail) == 1


def test_an_unknown_newsletter_stores_nothing(daily, sent_mail):
    with pytest.raises(UnknownNewsletter, match="weekly"):
        _signup("olena@gmail.com", "daily", "weekly")
    assert db.session.scalar(select(func.count()).select_from(OutboxJob)) == 0
    assert sent_mail == []


def test_two_newsletters_make_two_pending_subscriptions_and_one_email(daily, sent_mail):
    db.session.add(Newsletter(slug="explaining", name="Explaining Ukraine"))
    db.session.commit()
    _signup("olena@gmail.com", "daily", "explaining", "daily")
    statuses = db.session.scalars(select(Subscription.status)).all()
    assert statuses == ["pending", "pending"]
    assert len(sent_mail) == 1
