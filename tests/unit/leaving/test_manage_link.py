""" "Manage my subscriptions": a known address is mailed its link, at most once per cooldown
whatever its spelling; nothing else reveals anything."""

from __future__ import annotations

import email
import email.policy

from flask import current_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from service.addresses import parse_address
from service.extensions import db
from service.leaving import suppression
from service.leaving.links import load_preferences
from service.leaving.manage_link import (
    request_manage_link,
    send_manage_link,
    send_manage_link_email,
)
from service.models import JobStatus, OutboxJob, Subscriber
from service.task_names import TaskName
from tests.support.spellings import spellings_of


def _jobs() -> int:
    return db.session.scalar(select(func.count()).select_from(OutboxJob))


def test_a_known_address_is_mailed_a_working_preference_link(add_reader, daily, sent_mail):
    reader = add_reader("Olena@gmail.com", daily)
    request_manage_link(parse_address("OLENA@gmail.com"), "en")
    [message] = sent_mail
    assert message.recipients == ("Olena@gmail.com",)
    body = email.message_from_bytes(message.message, policy=email.policy.default)
    text = body.get_body(("plain",)).get_content()
    [url] = [w for w in text.split() if "/preferences/" in w]
    assert url.startswith("https://newsletters.example.org/preferences/")
    assert load_preferences(url.rsplit("/", 1)[1]) == reader
    [job] = db.session.scalars(select(OutboxJob)).all()
    assert (job.task, job.status) == (TaskName.SEND_MANAGE_LINK, JobStatus.DONE)
    assert job.payload == {}  # done: the address it named is not kept


def test_the_email_is_in_the_asked_locale(add_reader, daily, sent_mail):
    add_reader("olena@gmail.com", daily)
    add_reader("taras@gmail.com", daily)
    request_manage_link(parse_address("olena@gmail.com"), "en")
    request_manage_link(parse_address("taras@gmail.com"), "uk")
    english, ukrainian = (
        email.message_from_bytes(m.message, policy=email.policy.default)["Subject"]
        for m in sent_mail
    )
    assert english != ukrainian


def test_an_unknown_address_is_silent_but_costs_the_request_the_same(unit_app, sent_mail):
    request_manage_link(parse_address("nobody@gmail.com"), "en")
    assert (sent_mail, _jobs()) == ([], 1)  # one job, as for a known address


def test_a_hard_suppressed_address_is_never_mailed(add_reader, daily, sent_mail):
    reader = add_reader("olena@gmail.com", daily)
    for reason in (suppression.BOUNCE, suppression.MANUAL):
        suppression.unsuppress(reader.email_key)
        suppression.suppress(reader.email_key, reason)
        request_manage_link(parse_address("olena@gmail.com"), "en")
    assert (sent_mail, _jobs()) == ([], 2)


def test_a_reader_who_left_everything_can_still_ask(add_reader, daily, sent_mail):
    reader = add_reader("olena@gmail.com", daily)
    suppression.suppress(reader.email_key, suppression.UNSUBSCRIBE_ALL)
    request_manage_link(parse_address("olena@gmail.com"), "en")
    assert len(sent_mail) == 1


def test_a_job_for_an_erased_reader_sends_nothing(unit_app, sent_mail):
    send_manage_link_email(424242, "en")
    assert sent_mail == []


def test_an_old_job_naming_its_reader_by_id_still_sends(add_reader, daily, sent_mail):
    reader = add_reader("olena@gmail.com", daily)
    send_manage_link({"subscriber_id": reader.id, "locale": "en"})
    assert len(sent_mail) == 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(typed=st.lists(spellings_of("olena.k@gmail.com"), min_size=2, max_size=6))
def test_one_link_per_cooldown_whatever_the_spelling(add_reader, daily, sent_mail, typed):
    reader = add_reader("olena.k@gmail.com", daily) if not _reader() else _reader()
    db.session.execute(db.update(Subscriber).values(last_manage_link_sent_at=None))
    db.session.commit()
    sent_mail.clear()
    for spelling in typed:
        request_manage_link(parse_address(spelling), "en")
    assert [m.recipients for m in sent_mail] == [(reader.email,)]


def test_the_next_link_goes_once_the_cooldown_is_over(add_reader, daily, sent_mail):
    add_reader("olena@gmail.com", daily)
    current_app.config["CONFIRMATION_RESEND_SECONDS"] = 0
    for _ in range(2):
        request_manage_link(parse_address("olena@gmail.com"), "en")
    assert len(sent_mail) == 2


def _reader() -> Subscriber | None:
    return db.session.scalar(select(Subscriber))
