"""Applying signups: each job once, a bad one failed alone, blocks and re-signups honoured."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from service.addresses import parse_address
from service.extensions import db
from service.leaving import changes, suppression
from service.models import (
    ConsentRecord,
    JobStatus,
    OutboxJob,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    utcnow,
)
from service.signup.accept import SignupRequest, subscribe
from service.signup.apply import apply_signups
from service.signup.confirm import confirm, confirmation_token
from service.task_names import TaskName


@pytest.fixture
def daily(add_newsletter):
    return add_newsletter("daily", name="Ukraine Daily")


def _signup(address: str, *slugs: str) -> None:
    subscribe(SignupRequest(parse_address(address), slugs or ("daily",), ip="192.0.2.7"))


def _stored_job(address: str, newsletter_ids: list[int]) -> int:
    """A signup job as `subscribe` stores it, committed but not yet applied."""
    key = address.lower()
    payload = {
        "email": address,
        "email_ascii": address,
        "email_key": key,
        "smtputf8": False,
        "name": None,
        "locale": "en",
        "newsletters": "daily",
        "ip": None,
        "user_agent": None,
        "source_url": None,
        "form": None,
        "newsletter_ids": newsletter_ids,
        "at": utcnow().isoformat(),
    }
    job = OutboxJob(task=TaskName.APPLY_SIGNUPS, payload=payload, status=JobStatus.PENDING)
    db.session.add(job)  # written directly, so nothing publishes (and runs) it yet
    db.session.commit()
    return job.id


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _job(job_id: int) -> OutboxJob:
    db.session.expire_all()
    return db.session.get(OutboxJob, job_id)


def test_a_signup_job_is_applied_once_however_often_it_arrives(daily, sent_mail):
    job_id = _stored_job("olena@gmail.com", [daily.id])
    assert apply_signups([job_id, job_id]) == 1
    assert apply_signups(job_id) == 0  # the message came again: the job is done already
    assert (_count(Subscriber), _count(Subscription), _count(ConsentRecord)) == (1, 1, 1)
    assert _count(SubscriptionEvent) == 1
    assert len(sent_mail) == 1
    job = _job(job_id)
    assert (job.status, job.attempts, job.payload) == (JobStatus.DONE, 1, {})


def test_a_failing_signup_fails_alone_and_keeps_its_payload(daily, sent_mail):
    good = _stored_job("olena@gmail.com", [daily.id])
    bad = _stored_job("taras@gmail.com", [daily.id + 999])  # a newsletter deleted meanwhile
    other = _stored_job("ivan@gmail.com", [daily.id])
    assert apply_signups([good, bad, other]) == 2
    emails = db.session.scalars(select(Subscriber.email_key).order_by(Subscriber.id)).all()
    assert emails == ["olena@gmail.com", "ivan@gmail.com"]
    failed = _job(bad)
    assert failed.status == JobStatus.FAILED
    assert "IntegrityError" in failed.last_error
    assert failed.payload["email_key"] == "taras@gmail.com"  # kept, to look at and replay
    assert [_job(i).status for i in (good, other)] == [JobStatus.DONE, JobStatus.DONE]
    assert sorted(m.recipients for m in sent_mail) == [("ivan@gmail.com",), ("olena@gmail.com",)]


def test_a_manual_block_stops_the_signup_and_its_confirmation(daily, sent_mail):
    suppression.suppress("olena@gmail.com", suppression.MANUAL, "abuse report")
    _signup("Olena@gmail.com")
    assert _count(Subscriber) == 0
    assert sent_mail == []
    [status] = db.session.scalars(select(OutboxJob.status)).all()
    assert status == JobStatus.DONE


def test_a_manual_block_of_a_known_reader_sends_no_further_confirmation(daily, sent_mail):
    _signup("olena@gmail.com")
    suppression.suppress("olena@gmail.com", suppression.MANUAL)
    with time_machine.travel(utcnow() + timedelta(hours=1), tick=False):
        _signup("olena@gmail.com")
    assert len(sent_mail) == 1  # only the one from before the block
    assert _count(ConsentRecord) == 1


def test_an_unsubscribed_reader_who_signs_up_again_is_pending_and_mailed(daily, sent_mail):
    _signup("olena@gmail.com")
    [reader] = db.session.scalars(select(Subscriber)).all()
    confirm(confirmation_token(reader))
    assert changes.unsubscribe(reader.id, daily.id, "link")
    with time_machine.travel(utcnow() + timedelta(hours=1), tick=False):
        _signup("olena@gmail.com")
    db.session.expire_all()
    [subscription] = reader.subscriptions
    assert subscription.status == "pending"
    events = db.session.execute(
        select(
            SubscriptionEvent.from_status, SubscriptionEvent.to_status, SubscriptionEvent.cause
        ).order_by(SubscriptionEvent.id)
    ).all()
    assert events[-1] == ("unsubscribed", "pending", "signup")
    assert [m.recipients for m in sent_mail] == [("olena@gmail.com",)] * 2
    assert _count(Subscriber) == 1


def test_signing_up_again_for_what_one_receives_changes_nothing(daily, sent_mail):
    _signup("olena@gmail.com")
    [reader] = db.session.scalars(select(Subscriber)).all()
    confirm(confirmation_token(reader))
    events = _count(SubscriptionEvent)
    with time_machine.travel(utcnow() + timedelta(hours=1), tick=False):
        _signup("olena@gmail.com")
    db.session.expire_all()
    assert [s.status for s in reader.subscriptions] == ["confirmed"]
    assert _count(SubscriptionEvent) == events
    assert len(sent_mail) == 1  # nothing is pending: no confirmation to send
    assert _count(ConsentRecord) == 3  # signup, confirm, signup: every request is on record
