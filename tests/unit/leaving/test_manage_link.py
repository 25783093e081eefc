""" "Manage my subscriptions": a known address is mailed its link; nothing else reveals anything."""

from __future__ import annotations

import email
import email.policy

from sqlalchemy import func, select

from service.addresses import parse_address
from service.extensions import db
from service.leaving import suppression
from service.leaving.links import load_preferences
from service.leaving.manage_link import request_manage_link, send_manage_link_email
from service.models import JobStatus, OutboxJob
from service.task_names import TaskName


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
    assert job.payload == {"subscriber_id": reader.id, "locale": "en"}


def test_the_email_is_in_the_asked_locale(add_reader, daily, sent_mail):
    add_reader("olena@gmail.com", daily)
    request_manage_link(parse_address("olena@gmail.com"), "en")
    request_manage_link(parse_address("olena@gmail.com"), "uk")
    english, ukrainian = (
        email.message_from_bytes(m.message, policy=email.policy.default)["Subject"]
        for m in sent_mail
    )
    assert english != ukrainian


def test_an_unknown_address_is_silent(unit_app, sent_mail):
    request_manage_link(parse_address("nobody@gmail.com"), "en")
    assert (sent_mail, _jobs()) == ([], 0)


def test_a_hard_suppressed_address_is_never_mailed(add_reader, daily, sent_mail):
    reader = add_reader("olena@gmail.com", daily)
    for reason in (suppression.BOUNCE, suppression.MANUAL):
        suppression.unsuppress(reader.email_key)
        suppression.suppress(reader.email_key, reason)
        request_manage_link(parse_address("olena@gmail.com"), "en")
    assert (sent_mail, _jobs()) == ([], 0)


def test_a_reader_who_left_everything_can_still_ask(add_reader, daily, sent_mail):
    reader = add_reader("olena@gmail.com", daily)
    suppression.suppress(reader.email_key, suppression.UNSUBSCRIBE_ALL)
    request_manage_link(parse_address("olena@gmail.com"), "en")
    assert len(sent_mail) == 1


def test_a_job_for_an_erased_reader_sends_nothing(unit_app, sent_mail):
    send_manage_link_email(424242, "en")
    assert sent_mail == []
