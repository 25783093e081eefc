"""Leaving and choosing: RFC 8058 one-click unsubscribe, undo, preferences, suppression, expiry."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from service.extensions import db
from service.http.form_secrets import form_secret
from service.leaving.expiry import purge_expired_pending
from service.leaving.links import (
    list_unsubscribe_headers,
    preferences_token,
    unsubscribe_token,
    unsubscribe_url,
)
from service.leaving.suppression import reason as suppression_reason
from service.leaving.suppression import suppressed_keys, suppression_hash
from service.models import (
    ConsentRecord,
    Subscriber,
    Subscription,
    SubscriptionEvent,
    SubscriptionStatus,
    Suppression,
    utcnow,
)
from service.signup.confirm import confirmation_token
from tests.conftest import unique_email, wait_for_signups
from tests.support.readers import add_reader, statuses


def causes(subscriber_id: int) -> list[tuple[str | None, str, str]]:
    """The recorded (from, to, cause) events of one reader, oldest first."""
    return [
        (e.from_status, e.to_status, e.cause)
        for e in db.session.scalars(
            select(SubscriptionEvent)
            .join(Subscription)
            .where(Subscription.subscriber_id == subscriber_id)
            .order_by(SubscriptionEvent.id)
        )
    ]


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_headers_carry_a_one_click_link(app, newsletter):
    daily = newsletter()
    reader = add_reader(daily)
    headers = list_unsubscribe_headers(unsubscribe_token(reader.id, daily.id))
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (
        headers["List-Unsubscribe"]
        == f"<{unsubscribe_url(unsubscribe_token(reader.id, daily.id))}>"
    )
    assert unsubscribe_url(unsubscribe_token(reader.id, daily.id)).startswith(
        app.config["PUBLIC_URL"] + "/unsubscribe/"
    )


def test_one_click_urlencoded_without_cookies(app, newsletter):
    daily, other = newsletter(), newsletter()
    reader = add_reader(daily, other)
    url = path_of(unsubscribe_url(unsubscribe_token(reader.id, daily.id)))
    client = app.test_client(use_cookies=False)
    response = client.post(
        url,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert statuses(reader.id) == {daily.slug: "unsubscribed", other.slug: "confirmed"}
    assert causes(reader.id) == [("confirmed", "unsubscribed", "one_click")]
    assert suppression_reason(reader.email_key) is None
    # Repeating it is harmless and records nothing more.
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert len(causes(reader.id)) == 1


def test_one_click_multipart_without_cookies(app, newsletter):
    daily = newsletter()
    reader = add_reader(daily)
    client = app.test_client(use_cookies=False)
    response = client.post(
        path_of(unsubscribe_url(unsubscribe_token(reader.id, daily.id))),
        data={"List-Unsubscribe": "One-Click"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert response.request.content_type.startswith("multipart/form-data")
    assert "Location" not in response.headers
    assert "Set-Cookie" not in response.headers
    assert statuses(reader.id) == {daily.slug: "unsubscribed"}


def test_get_and_head_change_nothing(client, newsletter):
    daily = newsletter(name="Ukraine Daily")
    reader = add_reader(daily)
    url = path_of(unsubscribe_url(unsubscribe_token(reader.id, daily.id)))
    page = client.get(url)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ukraine Daily" in html
    assert 'id="unsubscribe"' in html and 'id="unsubscribe-all"' in html
    assert "/preferences/" in html
    assert client.head(url).status_code == 200
    assert statuses(reader.id) == {daily.slug: "confirmed"}
    assert causes(reader.id) == []


def test_an_old_token_still_works_after_a_year(app, newsletter):
    daily = newsletter()
    reader = add_reader(daily)
    url = path_of(unsubscribe_url(unsubscribe_token(reader.id, daily.id)))
    with time_machine.travel(utcnow() + timedelta(days=400)):
        response = app.test_client().post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert statuses(reader.id) == {daily.slug: "unsubscribed"}


def test_tampered_tokens_get_400(client, newsletter):
    daily = newsletter()
    reader = add_reader(daily)
    token = unsubscribe_token(reader.id, daily.id)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for method in (client.get, client.post):
        assert method(f"/unsubscribe/{tampered}").status_code == 400
    # A token made for another purpose does not unsubscribe either.
    assert client.post(f"/unsubscribe/{preferences_token(reader.id)}").status_code == 400
    assert client.get(f"/preferences/{token}").status_code == 400
    assert client.get(f"/preferences/{tampered}").status_code == 400
    assert statuses(reader.id) == {daily.slug: "confirmed"}


def test_the_page_button_unsubscribes_and_undo_restores(client, newsletter):
    daily = newsletter()
    reader = add_reader(daily)
    url = path_of(unsubscribe_url(unsubscribe_token(reader.id, daily.id)))
    done = client.post(url, data={"scope": "one"})
    assert done.status_code == 200
    assert statuses(reader.id) == {daily.slug: "unsubscribed"}
    html = done.get_data(as_text=True)
    secret = re.search(r'name="secret" value="([^"]+)"', html).group(1)
    # An undo without the signed value does nothing.
    assert client.post(url + "/undo", data={"scope": "one"}).status_code == 400
    assert statuses(reader.id) == {daily.slug: "unsubscribed"}
    assert client.post(url + "/undo", data={"scope": "one", "secret": secret}).status_code == 200
    assert statuses(reader.id) == {daily.slug: "confirmed"}
    assert causes(reader.id) == [
        ("confirmed", "unsubscribed", "unsubscribe_page"),
        ("unsubscribed", "confirmed", "undo"),
    ]


def test_unsubscribe_all_suppresses_across_newsletters(client, newsletter):
    daily, weekly, third = newsletter(), newsletter(), newsletter()
    reader = add_reader(daily, weekly)
    bystander = add_reader(daily, third)
    response = client.post(
        path_of(unsubscribe_url(unsubscribe_token(reader.id, daily.id))), data={"scope": "all"}
    )
    assert response.status_code == 200
    assert statuses(reader.id) == {daily.slug: "unsubscribed", weekly.slug: "unsubscribed"}
    assert {c for _, _, c in causes(reader.id)} == {"unsubscribe_all"}
    suppression = db.session.scalar(
        select(Suppression).where(Suppression.email_hash == suppression_hash(reader.email_key))
    )
    assert suppression is not None and suppression.reason == "unsubscribe_all"
    assert reader.email not in (suppression.detail or "")
    assert suppression_reason(reader.email_key) == "unsubscribe_all"
    assert suppressed_keys([reader.email_key, bystander.email_key]) == {reader.email_key}
    assert statuses(bystander.id) == {daily.slug: "confirmed", third.slug: "confirmed"}


def test_undo_of_unsubscribe_all_lifts_the_suppression(client, newsletter):
    daily, weekly = newsletter(), newsletter()
    reader = add_reader(daily, weekly)
    token = unsubscribe_token(reader.id, daily.id)
    client.post(f"/unsubscribe/{token}", data={"scope": "all"})
    assert suppression_reason(reader.email_key) == "unsubscribe_all"
    response = client.post(
        f"/unsubscribe/{token}/undo", data={"scope": "all", "secret": form_secret(token, "undo")}
    )
    assert response.status_code == 200
    assert statuses(reader.id) == {daily.slug: "confirmed", weekly.slug: "confirmed"}
    db.session.expire_all()
    assert suppression_reason(reader.email_key) is None


def test_a_suppressed_address_must_confirm_again(app, client, smtp, newsletter):
    daily = newsletter()
    email = unique_email()
    reader = add_reader(daily, email=email)
    client.post(
        path_of(unsubscribe_url(unsubscribe_token(reader.id, daily.id))), data={"scope": "all"}
    )
    assert suppression_reason(reader.email_key) == "unsubscribe_all"

    response = client.post(
        "/api/v1/subscriptions", json={"email": email, "newsletters": daily.slug}
    )
    assert response.status_code == 202
    wait_for_signups()
    assert statuses(reader.id) == {daily.slug: "pending"}
    db.session.expire_all()
    # still suppressed until the reader confirms
    assert suppression_reason(reader.email_key) == "unsubscribe_all"
    messages = smtp.wait_for_recipient(email, timeout=20)
    assert messages[0].recipients == (email,)
    assert "/confirm/" in messages[0].message.get_body(("plain",)).get_content()

    subscriber = db.session.get(Subscriber, reader.id)
    assert client.post(f"/confirm/{confirmation_token(subscriber)}").status_code == 200
    assert statuses(reader.id) == {daily.slug: "confirmed"}
    db.session.expire_all()
    assert suppression_reason(reader.email_key) is None


def test_preferences_list_the_readers_own_hidden_and_archived_newsletters(client, newsletter):
    """Issue 21: hidden from public pages, never from the reader's own preference page."""
    staff = newsletter(name="Staff notes", is_public=False)
    old = newsletter(name="Old column", archived=True)
    gone = newsletter(name="Gone column", archived=True)
    stranger = newsletter(name="Not yours", is_public=False)
    closed = newsletter(name="Closed to you", archived=True)
    reader = add_reader(staff, old)
    db.session.add(
        Subscription(subscriber_id=reader.id, newsletter_id=gone.id, status="unsubscribed")
    )
    db.session.commit()
    token = preferences_token(reader.id)
    html = client.get(f"/preferences/{token}").get_data(as_text=True)
    assert "Staff notes" in html and "Old column" in html and "Gone column" in html
    assert "Not yours" not in html and "Closed to you" not in html
    assert re.search(rf'value="{gone.slug}"\s+disabled', html)  # archived: not joined again
    assert html.count("No longer published") == 2

    secret = form_secret(token, "preferences")
    kept = client.post(
        f"/preferences/{token}",
        data={"newsletters": [staff.slug, gone.slug, closed.slug], "secret": secret},
    )
    assert kept.status_code == 200
    assert statuses(reader.id) == {
        staff.slug: "confirmed",
        old.slug: "unsubscribed",  # left from the page
        gone.slug: "unsubscribed",  # archived: asked for, not joined again
    }
    assert stranger.slug not in kept.get_data(as_text=True)


def test_preferences_save_with_the_form_value(client, smtp, newsletter):
    daily = newsletter(description="Every morning", schedule_cron="0 7 * * *")
    weekly = newsletter(description="Long reads", schedule_cron="0 9 * * 6")
    reader = add_reader(daily)
    token = preferences_token(reader.id)
    page = client.get(f"/preferences/{token}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Every morning" in html and "Long reads" in html
    assert "Daily at 07:00" in html and "Every Saturday at 09:00" in html
    assert "Set-Cookie" not in page.headers

    forged = client.post(f"/preferences/{token}", data={"newsletters": [weekly.slug]})
    assert forged.status_code == 400
    assert statuses(reader.id) == {daily.slug: "confirmed"}

    saved = client.post(
        f"/preferences/{token}",
        data={"newsletters": [weekly.slug], "secret": form_secret(token, "preferences")},
    )
    assert saved.status_code == 200
    assert "Waiting for you to confirm it" in saved.get_data(as_text=True)
    # A link that came by email never confirms a newsletter the reader never confirmed:
    assert statuses(reader.id) == {daily.slug: "unsubscribed", weekly.slug: "pending"}
    assert set(causes(reader.id)) == {
        ("confirmed", "unsubscribed", "preferences"),
        (None, "pending", "preferences"),
    }
    [confirmation] = smtp.wait_for_recipient(reader.email, timeout=20)  # it asks first
    text = confirmation.message.get_body(("plain",)).get_content()
    link = re.search(r"(http\S+/confirm/\S+)", text).group(1)
    assert client.post(path_of(link)).status_code == 200
    assert statuses(reader.id) == {daily.slug: "unsubscribed", weekly.slug: "confirmed"}
    consent = db.session.scalar(
        select(ConsentRecord).where(
            ConsentRecord.subscriber_id == reader.id, ConsentRecord.action == "preferences"
        )
    )
    assert consent is not None and consent.newsletters == weekly.slug


def test_pages_are_localized(client, newsletter):
    daily = newsletter()
    reader = add_reader(daily, locale="uk")
    url = path_of(unsubscribe_url(unsubscribe_token(reader.id, daily.id)))
    html = client.get(url).get_data(as_text=True)
    assert "Відписатися від усього" in html
    assert "Оберіть" in client.get(f"/preferences/{preferences_token(reader.id)}").get_data(
        as_text=True
    )
    html = client.get(url + "?locale=en").get_data(as_text=True)
    assert "Unsubscribe from everything" in html


def test_manage_link_by_email_same_answer_for_unknown(client, smtp, newsletter):
    daily = newsletter()
    reader = add_reader(daily)
    known = client.post("/manage", data={"email": reader.email})
    stranger = unique_email()
    unknown = client.post("/manage", data={"email": stranger})
    assert known.status_code == unknown.status_code == 200
    strip = lambda r: r.get_data(as_text=True)  # noqa: E731
    assert strip(known) == strip(unknown)
    message = smtp.wait_for_recipient(reader.email, timeout=20)[0]
    assert message.recipients == (reader.email,)
    text = message.message.get_body(("plain",)).get_content()
    link = re.search(r"(http\S+/preferences/\S+)", text).group(1)
    assert client.get(path_of(link)).status_code == 200
    assert "multipart/alternative" in message.message.get_content_type()
    assert not [m for m in smtp.messages if stranger in m.recipients]  # nothing to a stranger
    assert client.post("/manage", data={"email": "not an address"}).status_code == 422


def test_purge_of_expired_pending(app, newsletter):
    daily, weekly = newsletter(), newsletter()
    old_time = utcnow() - timedelta(days=31)
    with time_machine.travel(old_time, tick=False):
        stale = add_reader(daily, status=SubscriptionStatus.PENDING)
        mixed = add_reader(daily, status=SubscriptionStatus.CONFIRMED)
        mixed.subscriptions.append(Subscription(newsletter=weekly, status="pending"))
        db.session.commit()
    fresh = add_reader(daily, status=SubscriptionStatus.PENDING)
    stale_id, mixed_id, fresh_id = stale.id, mixed.id, fresh.id

    purged = purge_expired_pending(days=30)
    assert purged >= 2
    db.session.expire_all()
    assert db.session.get(Subscriber, stale_id) is None  # never confirmed anything: gone
    assert statuses(mixed_id) == {daily.slug: "confirmed"}
    assert statuses(fresh_id) == {daily.slug: "pending"}
    assert purge_expired_pending(days=30) == 0


def test_purge_runs_as_a_beat_task(app, stack, newsletter):
    from service.celery_app import beat_schedule

    assert (
        beat_schedule(app)["purge-expired-pending"]["task"] == "maintenance.purge_expired_pending"
    )
    daily = newsletter()
    with time_machine.travel(utcnow() - timedelta(days=45), tick=False):
        stale = add_reader(daily, status=SubscriptionStatus.PENDING)
    stale_id = stale.id
    result = app.extensions["celery"].send_task("maintenance.purge_expired_pending")
    assert result.id
    for _ in range(100):
        db.session.expire_all()
        count = db.session.scalar(select(func.count()).where(Subscriber.id == stale_id))
        if count == 0:
            break
        time.sleep(0.2)
    assert db.session.get(Subscriber, stale_id) is None


def test_one_click_for_an_erased_reader_still_answers_200(app, newsletter):
    daily = newsletter()
    reader = add_reader(daily)
    url = path_of(unsubscribe_url(unsubscribe_token(reader.id, daily.id)))
    db.session.delete(reader)
    db.session.commit()
    response = app.test_client(use_cookies=False).post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_mailto_is_added_when_an_inbound_address_is_configured(app, newsletter):
    daily = newsletter()
    reader = add_reader(daily)
    app.config["UNSUBSCRIBE_MAILTO"] = "unsubscribe@news.example.org"
    try:
        value = list_unsubscribe_headers(unsubscribe_token(reader.id, daily.id))["List-Unsubscribe"]
    finally:
        del app.config["UNSUBSCRIBE_MAILTO"]
    https, mailto = value.split(", ")
    assert https == f"<{unsubscribe_url(unsubscribe_token(reader.id, daily.id))}>"
    assert mailto.startswith("<mailto:unsubscribe@news.example.org?subject=unsubscribe-")


def test_manage_link_has_the_per_address_limit(stack, newsletter):
    from tests.conftest import app_for

    limited = app_for(stack.env, RATELIMIT_ENABLED=True, SIGNUP_RATE_LIMIT_ADDRESS="2/hour")
    client = limited.test_client()
    email = unique_email()
    answers = [client.post("/manage", data={"email": email}).status_code for _ in range(3)]
    assert answers == [200, 200, 429]
    other = client.post("/manage", data={"email": unique_email()})
    assert other.status_code == 200


def test_suppression_holds_across_newsletters_and_a_later_send(client, api_key, newsletter, smtp):
    from tests.functional.test_sending import create, fresh_article, wait_received, wait_status

    first, second = newsletter(), newsletter()
    fresh_article()
    leaver = add_reader(first, second)
    stayer = add_reader(first, second)
    addresses = [leaver.email, stayer.email]

    send_id = create(client, api_key, first.slug)
    wait_status(client, api_key, send_id, {"sent"})
    mails = wait_received(smtp, addresses, 2)
    mail = next(m for m in mails if m.recipients[0] == leaver.email).message
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.fullmatch(r"<(\S+)>", str(mail["List-Unsubscribe"])).group(1)

    # The link in the received email, posted by a mail client: no cookies, 200, no redirect.
    one_click = app_client_without_cookies(client).post(
        path_of(link), data={"List-Unsubscribe": "One-Click"}
    )
    assert one_click.status_code == 200 and "Location" not in one_click.headers
    assert statuses(leaver.id) == {first.slug: "unsubscribed", second.slug: "confirmed"}
    client.post(path_of(link), data={"scope": "all"})
    assert statuses(leaver.id) == {first.slug: "unsubscribed", second.slug: "unsubscribed"}

    # Even if a subscription were switched back on behind the list's back, nothing is sent.
    subscription = db.session.scalar(
        select(Subscription).where(
            Subscription.subscriber_id == leaver.id, Subscription.newsletter_id == second.id
        )
    )
    subscription.status = SubscriptionStatus.CONFIRMED
    db.session.commit()
    smtp.clear()
    fresh_article()
    send_id = create(client, api_key, second.slug)
    wait_status(client, api_key, send_id, {"sent"})
    got = wait_received(smtp, addresses, 1)
    time.sleep(0.5)
    assert [m.recipients[0] for m in smtp.messages if m.recipients[0] in addresses] == [
        stayer.email
    ]
    assert len(got) == 1


def app_client_without_cookies(client):
    """A client of the same app that keeps no cookies (as a mail provider's one-click POST)."""
    return client.application.test_client(use_cookies=False)


def test_manual_block_from_the_cli_stops_every_email(app, client, smtp, newsletter):
    daily = newsletter()
    email = unique_email()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["suppressions", "add", email.upper()])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["suppressions", "check", email]).output.strip() == (
        "suppressed (manual)"
    )
    response = client.post(
        "/api/v1/subscriptions", json={"email": email, "newsletters": daily.slug}
    )
    assert response.status_code == 202  # the same answer, but nothing stored and nothing sent
    wait_for_signups()
    assert db.session.scalar(select(Subscriber).where(Subscriber.email_key == email)) is None
    assert client.post("/manage", data={"email": email}).status_code == 200
    time.sleep(1)
    assert not [m for m in smtp.messages if email in m.recipients]

    assert runner.invoke(args=["suppressions", "remove", email]).exit_code == 0
    assert runner.invoke(args=["suppressions", "check", email]).exit_code == 1
    assert suppression_reason(email) is None
