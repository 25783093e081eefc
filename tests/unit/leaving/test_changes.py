"""A reader's own changes: each recorded with its cause, each bumping the link version."""

from __future__ import annotations

from sqlalchemy import select

from service.extensions import db
from service.leaving import changes, suppression
from service.models import ConsentRecord, SubscriptionEvent


def _statuses(reader) -> dict[str, str]:
    db.session.expire_all()
    return {s.newsletter.slug: s.status for s in reader.subscriptions}


def _events(reader) -> list[tuple[str | None, str, str]]:
    ids = [s.id for s in reader.subscriptions]
    return [
        tuple(row)
        for row in db.session.execute(
            select(
                SubscriptionEvent.from_status, SubscriptionEvent.to_status, SubscriptionEvent.cause
            )
            .where(SubscriptionEvent.subscription_id.in_(ids))
            .order_by(SubscriptionEvent.id)
        )
    ]


def test_unsubscribe_leaves_one_newsletter_once(add_reader, daily, weekly):
    reader = add_reader("olena@gmail.com", daily, weekly)
    assert changes.unsubscribe(reader.id, daily.id, "one-click")
    assert not changes.unsubscribe(reader.id, daily.id, "one-click")  # already out
    assert _statuses(reader) == {"daily": "unsubscribed", "weekly": "confirmed"}
    assert _events(reader) == [("confirmed", "unsubscribed", "one-click")]
    assert reader.state_version == 1
    assert reader.subscriptions[0].unsubscribed_at is not None
    assert suppression.reason(reader.email_key) is None


def test_unsubscribing_from_what_one_never_had_changes_nothing(add_reader, daily, weekly):
    reader = add_reader("olena@gmail.com", daily)
    assert not changes.unsubscribe(reader.id, weekly.id, "link")
    assert reader.state_version == 0


def test_unsubscribe_all_leaves_everything_and_suppresses_the_address(add_reader, daily, weekly):
    reader = add_reader("olena@gmail.com", daily, weekly)
    assert changes.unsubscribe_all(reader.id) == 2
    assert _statuses(reader) == {"daily": "unsubscribed", "weekly": "unsubscribed"}
    assert suppression.reason("olena@gmail.com") == suppression.UNSUBSCRIBE_ALL
    assert changes.unsubscribe_all(reader.id) == 0
    assert changes.unsubscribe_all(reader.id + 1) == 0  # no such reader


def test_undo_of_unsubscribe_all_restores_what_it_changed_and_lifts_it(add_reader, daily, weekly):
    reader = add_reader("olena@gmail.com", daily, weekly)
    assert changes.unsubscribe(reader.id, weekly.id, "one-click")  # left on purpose earlier
    changes.unsubscribe_all(reader.id)
    assert changes.resubscribe(reader.id, None) == 1
    assert _statuses(reader) == {"daily": "confirmed", "weekly": "unsubscribed"}
    assert suppression.reason(reader.email_key) is None
    assert _events(reader)[-1] == ("unsubscribed", "confirmed", "undo")
    assert changes.resubscribe(reader.id, None) == 0  # nothing left to undo


def test_undo_of_one_unsubscribe_restores_the_status_it_had(add_reader, daily):
    reader = add_reader("olena@gmail.com", daily, status="pending")
    changes.unsubscribe(reader.id, daily.id, "one-click")
    assert changes.resubscribe(reader.id, daily.id) == 1
    assert _statuses(reader) == {"daily": "pending"}  # undo does not confirm
    version = reader.state_version
    assert changes.resubscribe(reader.id, daily.id) == 0
    assert reader.state_version == version


def test_undo_never_lifts_a_bounce(add_reader, daily):
    reader = add_reader("olena@gmail.com", daily)
    changes.unsubscribe_all(reader.id)
    suppression.suppress(reader.email_key, suppression.BOUNCE, "550 no such user")
    changes.resubscribe(reader.id, None)
    assert suppression.reason(reader.email_key) == suppression.BOUNCE


def test_preferences_keep_exactly_the_chosen_newsletters(
    add_reader, add_newsletter, daily, sent_mail
):
    weekly = add_newsletter("weekly")
    internal = add_newsletter("staff", is_public=False)
    reader = add_reader("olena@gmail.com", daily, internal)
    add_newsletter("other-staff", is_public=False)
    assert [n.slug for n in changes.preference_newsletters(reader)] == ["daily", "weekly", "staff"]
    changed = changes.save_preferences(
        reader.id, [weekly.id, internal.id], ip="192.0.2.7", user_agent="UA"
    )
    assert changed == 2
    assert _statuses(reader) == {
        "daily": "unsubscribed",
        "staff": "confirmed",  # hidden, but the reader's own: kept when ticked
        "weekly": "pending",  # never confirmed: asked for, not given
    }
    record = db.session.scalars(select(ConsentRecord)).one()
    assert (record.action, record.newsletters, record.ip) == ("preferences", "weekly", "192.0.2.7")
    assert reader.state_version == 1
    assert changes.save_preferences(reader.id, [weekly.id, internal.id]) == 0
    assert reader.state_version == 1
    assert changes.save_preferences(reader.id, [weekly.id]) == 1  # hidden: left when unticked
    assert _statuses(reader)["staff"] == "unsubscribed"
    [confirmation] = sent_mail  # one, though asked twice: the cooldown
    assert confirmation.recipients == ("olena@gmail.com",)
    assert b"/confirm/" in confirmation.message


def test_a_link_from_an_email_cannot_confirm_what_the_reader_never_confirmed(
    add_reader, daily, weekly, sent_mail
):
    reader = add_reader("olena@gmail.com", daily)
    changes.unsubscribe(reader.id, daily.id, "one_click")
    changes.save_preferences(reader.id, [daily.id, weekly.id])
    assert _statuses(reader) == {"daily": "confirmed", "weekly": "pending"}
    assert len(sent_mail) == 1
    sent_mail.clear()
    changes.save_preferences(reader.id, [daily.id])  # leaving what is pending needs no mail
    assert (_statuses(reader), sent_mail) == ({"daily": "confirmed", "weekly": "unsubscribed"}, [])


def test_preferences_lift_an_unsubscribe_all_but_not_a_manual_block(add_reader, daily):
    reader = add_reader("olena@gmail.com", daily)
    changes.unsubscribe_all(reader.id)
    assert changes.save_preferences(reader.id, [daily.id]) == 1
    assert suppression.reason(reader.email_key) is None
    assert _statuses(reader) == {"daily": "confirmed"}
    suppression.suppress(reader.email_key, suppression.MANUAL)
    changes.unsubscribe(reader.id, daily.id, "link")
    assert changes.save_preferences(reader.id, [daily.id]) == 0
    assert _statuses(reader) == {"daily": "unsubscribed"}
    assert suppression.reason(reader.email_key) == suppression.MANUAL


def test_public_newsletters_are_the_public_ones_in_order(add_newsletter):
    first, _, third = add_newsletter("a"), add_newsletter("b", is_public=False), add_newsletter("c")
    assert changes.public_newsletters() == [first, third]
