"""Admin API (bearer key): readers, filtered and paged; one reader's personal-data export,
timeline and erasure (GDPR)."""

from __future__ import annotations

from flask import Blueprint, jsonify

from service.extensions import db
from service.http.auth import operator
from service.http.contract import endpoint
from service.http.errors import api_error
from service.http.schemas.common import PageQuery
from service.http.schemas.subscribers import (
    Erased,
    Subscriber,
    SubscriberExport,
    SubscriberList,
    SubscriberPath,
    SubscriberQuery,
    Timeline,
)
from service.lists.browse import FilterInvalid, browse_readers, reader_filter
from service.lists.subscribers import erase_subscriber, export_subscriber
from service.lists.timeline import consent_state, timeline_page
from service.models import Subscriber as Reader
from service.paging import BadPage, decode_cursor, encode_cursor, page_of

bp = Blueprint("admin_subscribers", __name__, url_prefix="/api/v1")
PAGE_INVALID = "`invalid`: `limit` or `cursor` (named in `field`)"


def _not_found(subscriber_id: int):
    db.session.rollback()
    return api_error(404, "not_found", f"No subscriber {subscriber_id}.")


@bp.get("/subscribers")
@endpoint(
    "read",
    query=SubscriberQuery,
    answers={200: SubscriberList},
    errors={
        422: "`invalid`: a filter, `limit` or `cursor` (named in `field`); an unknown `newsletter`"
    },
    links={
        200: {
            "Timeline": (
                "admin_subscribers.timeline.get",
                {"subscriber_id": "$response.body#/subscribers/0/id"},
            )
        }
    },
)
def list_subscribers(query: SubscriberQuery):
    """List readers by id, filtered: `newsletter`, `status`, `source`, `created_after`,
    `created_before`, `email` (an exact address, any case) or `email_prefix`.

    `status` alone matches a reader with any subscription in it, with `newsletter` that one;
    `source` is `import` or the name of the form they signed up on. Paged: `limit` and the
    `cursor` of the previous answer's `next`.
    """
    try:
        after = decode_cursor(query.cursor, int)
        wanted = reader_filter(query.model_dump(exclude_none=True, exclude={"limit", "cursor"}))
    except (BadPage, FilterInvalid) as exc:
        db.session.rollback()
        return api_error(422, "invalid", str(exc), exc.field)
    rows = browse_readers(wanted, after[0] if after else 0, query.limit + 1)
    shown, cursor = page_of(rows, query.limit, lambda reader: (reader.id,))
    body = SubscriberList(subscribers=[Subscriber.of(s) for s in shown], next=cursor)
    db.session.commit()
    return body


@bp.get("/subscribers/<int:subscriber_id>/export")
@endpoint(
    "read",
    path=SubscriberPath,
    answers={200: SubscriberExport},
    errors={404: "no such subscriber"},
    headers={200: {"Content-Disposition": "attachment; filename=subscriber-ID.json"}},
)
def export(subscriber_id: int):
    """Everything held about one reader, as JSON: profile, subscriptions, events, consent."""
    subscriber = db.session.get(Reader, subscriber_id)
    if subscriber is None:
        return _not_found(subscriber_id)
    data = SubscriberExport.model_validate(export_subscriber(subscriber))
    db.session.commit()
    response = jsonify(data.model_dump(mode="json"))
    response.headers["Content-Disposition"] = (
        f'attachment; filename="subscriber-{subscriber_id}.json"'
    )
    return response


@bp.get("/subscribers/<int:subscriber_id>/timeline")
@endpoint(
    "read",
    path=SubscriberPath,
    query=PageQuery,
    answers={200: Timeline},
    errors={404: "no such subscriber", 422: PAGE_INVALID},
)
def timeline(subscriber_id: int, query: PageQuery):
    """A reader's history, newest first: subscription changes (signup, confirmation,
    unsubscribes, preference changes, bounces), consent records (form, IP, user agent) and
    deliveries from the send ledger; with `consent`, each subscription's consent state.

    Paged: `limit` and the `cursor` of the previous answer's `next`.
    """
    try:
        before = decode_cursor(query.cursor, int, int, int)
    except BadPage as exc:
        return api_error(422, "invalid", str(exc), exc.field)
    subscriber = db.session.get(Reader, subscriber_id)
    if subscriber is None:
        return _not_found(subscriber_id)
    entries = timeline_page(subscriber, before, query.limit + 1)  # type: ignore[arg-type]
    shown = entries[: query.limit]
    body = Timeline.model_validate(
        {
            "id": subscriber.id,
            "consent": consent_state(subscriber),
            "events": [entry for _, entry in shown],
            "next": encode_cursor(*shown[-1][0]) if len(entries) > query.limit else None,
        }
    )
    db.session.commit()
    return body


@bp.delete("/subscribers/<int:subscriber_id>")
@endpoint("write", path=SubscriberPath, answers={200: Erased}, errors={404: "no such subscriber"})
def erase(subscriber_id: int):
    """Erase a reader: personal data deleted, the address kept only as a suppression hash."""
    subscriber = db.session.get(Reader, subscriber_id)
    if subscriber is None:
        return _not_found(subscriber_id)
    erase_subscriber(subscriber, actor=operator())
    return Erased(id=subscriber_id, status="erased")
