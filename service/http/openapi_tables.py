"""The OpenAPI document's tables, one entry per endpoint: request and response bodies, query
parameters, headers, media types, the answers besides success, and the links between
operations (`openapi.py` builds the document from the routes and these)."""

from __future__ import annotations

from typing import Any

from service.i18n import LOCALES
from service.leaving.suppression_list import WHY_MAX
from service.lists.browse import ADDRESS_MAX, SOURCE_MAX, WHEN
from service.lists.browse import STATUSES as READER_STATUSES
from service.paging import MAX_LIMIT
from service.sending.summary import STATUSES as SEND_STATUSES

# (METHOD, rule) -> request schema, success status, response schema (None: not JSON).
BODIES: dict[tuple[str, str], tuple[str | None, str, str | None]] = {
    ("POST", "/api/v1/subscriptions"): ("SignupRequest", "202", "SignupAccepted"),
    ("POST", "/api/v1/articles"): ("ArticleRequest", "201", "ArticleAnswer"),
    ("GET", "/api/v1/newsletters"): (None, "200", "NewsletterList"),
    ("POST", "/api/v1/newsletters"): ("NewsletterCreate", "201", "Newsletter"),
    ("PATCH", "/api/v1/newsletters/<slug>"): ("NewsletterFields", "200", "Newsletter"),
    ("POST", "/api/v1/newsletters/<slug>/sends"): ("SendRequest", "201", "Send"),
    ("GET", "/api/v1/sends/<int:send_id>"): (None, "200", "Send"),
    ("GET", "/api/v1/subscribers"): (None, "200", "SubscriberList"),
    ("GET", "/api/v1/subscribers/<int:subscriber_id>/export"): (None, "200", "SubscriberExport"),
    ("DELETE", "/api/v1/subscribers/<int:subscriber_id>"): (None, "200", "Erased"),
    ("POST", "/api/v1/digest-preview/<slug>/test"): ("TestSendRequest", "202", "TestSendQueued"),
    ("GET", "/api/v1/"): (None, "200", "ApiIndex"),
    ("DELETE", "/api/v1/newsletters/<slug>"): (None, "204", None),
    ("GET", "/api/v1/api-keys"): (None, "200", "ApiKeyList"),
    ("POST", "/api/v1/api-keys"): ("ApiKeyCreate", "201", "ApiKeyCreated"),
    ("DELETE", "/api/v1/api-keys/<name>"): (None, "200", "ApiKeyRevoked"),
    ("GET", "/api/v1/audit"): (None, "200", "AuditLog"),
    ("GET", "/api/v1/sends"): (None, "200", "SendList"),
    ("GET", "/api/v1/suppressions"): (None, "200", "SuppressionList"),
    ("POST", "/api/v1/suppressions"): ("SuppressionCreate", "201", "Suppression"),
    ("DELETE", "/api/v1/suppressions/<int:entry_id>"): (None, "200", "SuppressionRemoved"),
    ("GET", "/api/v1/subscribers/<int:subscriber_id>/timeline"): (None, "200", "Timeline"),
}
_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
    },
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "`next` of the previous page (422 `invalid` for any other string)",
    },
]
_WHEN = {
    "type": "string",
    "pattern": "^" + WHEN.pattern + "$",
    "description": "RFC 3339 time, or a date (midnight UTC); no zone: UTC",
}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    parameter = {"name": name, "in": "query", "required": False, "schema": schema}
    return {**parameter, "description": description} if description else parameter


# Query parameters a view reads: endpoint -> their OpenAPI parameter objects.
QUERY: dict[str, list[dict[str, Any]]] = {
    "api_keys.list_keys": _PAGING,
    "audit.list_events": _PAGING,
    "admin_subscribers.timeline": _PAGING,
    "suppressions.list_suppressions": [
        _query(
            "email",
            {"type": "string", "minLength": 1, "maxLength": ADDRESS_MAX},
            "only this address's entry (how to check one address)",
        ),
        *_PAGING,
    ],
    "suppressions.remove_suppression": [
        {
            "name": "reason",
            "in": "query",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": WHY_MAX},
            "description": "why the block is lifted (kept in the audit log)",
        }
    ],
    "admin.list_subscribers": [
        _query("newsletter", {"type": "string"}, "a newsletter's slug"),
        _query("status", {"type": "string", "enum": list(READER_STATUSES)}),
        _query(
            "source",
            {"type": "string", "maxLength": SOURCE_MAX},
            "`import`, or the form they signed up on",
        ),
        _query("created_after", _WHEN),
        _query("created_before", _WHEN),
        _query("email", {"type": "string"}, "an exact address, any case"),
        _query("email_prefix", {"type": "string", "maxLength": ADDRESS_MAX}),
        *_PAGING,
    ],
    "sends.list_sends": [
        _query("newsletter", {"type": "string"}, "a newsletter's slug"),
        _query("status", {"type": "string", "enum": list(SEND_STATUSES)}),
        *_PAGING,
    ],
    "articles.digest_preview": [
        {
            "name": "locale",
            "in": "query",
            "description": "the digest's language (absent or empty: `en`)",
            "schema": {"type": "string", "enum": [*LOCALES, ""]},
        },
        {
            "name": "format",
            "in": "query",
            "description": "`html` (absent or empty too) or `text`, the plain-text part",
            "schema": {"type": "string", "enum": ["html", "text", ""]},
        },
    ],
}
# Headers of a success answer: endpoint -> their OpenAPI header objects.
HEADERS: dict[str, dict[str, Any]] = {
    "articles.digest_preview": {
        "Digest-Skipped": {
            "description": "present when the digest leaves articles out: how many and why",
            "schema": {"type": "string"},
        }
    }
}
# Request bodies that may be left out (the view has a default for every field).
OPTIONAL_BODIES = {("POST", "/api/v1/newsletters/<slug>/sends")}
# Views whose answer is not JSON: endpoint -> media types of the success answer. A hosted page
# also answers its errors as a page.
HTML = "text/html"
MEDIA: dict[str, tuple[str, ...]] = {
    "public.confirm_page": (HTML,),
    "public.confirm_submit": (HTML,),
    "public.confirm_resend": (HTML,),
    "public.signup_page": (HTML,),
    "unsubscribe.unsubscribe_page": (HTML,),
    "unsubscribe.unsubscribe_submit": (HTML,),
    "unsubscribe.unsubscribe_undo": (HTML,),
    "unsubscribe.preferences_page": (HTML,),
    "unsubscribe.preferences_save": (HTML,),
    "unsubscribe.manage_page": (HTML,),
    "unsubscribe.manage_submit": (HTML,),
    "archive.index": (HTML,),
    "archive.issue": (HTML,),
    "embed.form_page": (HTML,),
    "api_docs.page": (HTML,),
    "embed.script": ("text/javascript",),
    "articles.digest_preview": (HTML, "text/plain"),
}
# JSON views that also answer a page to a browser's plain form post (`Accept: text/html`).
ALSO_HTML = {"public.create_subscription"}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Page forms: endpoint -> their fields (all strings).
FORM_FIELDS: dict[str, tuple[str, ...]] = {
    "unsubscribe.unsubscribe_submit": ("List-Unsubscribe", "scope", "locale"),
    "unsubscribe.unsubscribe_undo": ("secret", "scope"),
    "unsubscribe.preferences_save": ("secret", "newsletters"),
    "unsubscribe.manage_submit": ("email", "locale"),
}
# Answers besides success that a view gives by itself: (METHOD, rule) -> {status: description}.
ERRORS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/api/v1/subscriptions"): {
        "400": "`bad_request`: the body is not a signup (JSON object or form)",
        "403": "`origin_not_allowed`: this page's origin may not sign up to these newsletters",
        "422": "`required`, `invalid_email` (with `suggestion` for a likely typo), "
        "`unknown_newsletter`, `unknown_locale` or `captcha_failed`",
        "503": "`captcha_unavailable`: the captcha provider is unreachable, or "
        "`signup_unavailable`: the database is away and the signup could not be spooled "
        "either (with the database away alone it is spooled and answered 202); retry after "
        "`Retry-After` seconds",
    },
    ("POST", "/api/v1/articles"): {
        "400": "`bad_request`: neither an object nor a list",
        "413": "`too_large`: more than 500 articles",
        "422": "`invalid_article`, naming the `field`",
    },
    ("POST", "/api/v1/newsletters"): {
        "409": "`conflict`: a newsletter with this slug exists",
        "422": "a field is invalid (named in `field`)",
    },
    ("DELETE", "/api/v1/newsletters/<slug>"): {
        "404": "no such newsletter",
        "409": "`newsletter_in_use`: it has confirmed readers or sends that started "
        "(`readers`, `sends`); archive it instead",
    },
    ("PATCH", "/api/v1/newsletters/<slug>"): {
        "404": "no such newsletter",
        "422": "a field is invalid (named in `field`)",
    },
    ("POST", "/api/v1/newsletters/<slug>/sends"): {
        "404": "no such newsletter",
        "409": "`send_in_progress`: the newsletter already has a send scheduled, sending or "
        "paused; the answer names it; or `newsletter_archived`",
        "422": "`invalid`: `scheduled_at` is not an ISO 8601 time, or in the past; "
        "`no_recipients`: the newsletter has no confirmed reader (nothing stored, no article "
        "used up; `pending` counts the readers waiting to confirm)",
    },
    ("POST", "/api/v1/sends/<int:send_id>/<any(pause, resume, cancel):action>"): {
        "404": "no such send",
        "409": "`invalid_state`: the send's status does not allow this",
    },
    ("GET", "/api/v1/api-keys"): {"422": "`invalid`: `limit` or `cursor` (named in `field`)"},
    ("GET", "/api/v1/audit"): {"422": "`invalid`: `limit` or `cursor` (named in `field`)"},
    ("GET", "/api/v1/subscribers"): {
        "422": "`invalid`: a filter, `limit` or `cursor` (named in `field`); an unknown "
        "`newsletter`"
    },
    ("GET", "/api/v1/sends"): {
        "422": "`invalid`: `status`, `limit` or `cursor` (named in `field`); an unknown "
        "`newsletter`"
    },
    ("GET", "/api/v1/suppressions"): {
        "422": "`invalid`: `limit` or `cursor` (named in `field`); `invalid_email`"
    },
    ("POST", "/api/v1/suppressions"): {
        "400": "`bad_request`: the body is not a JSON object",
        "409": "`conflict`: the address is already suppressed (its entry's `id`)",
        "422": "`invalid_email`, or `invalid`: `reason` or `detail` (named in `field`)",
    },
    ("DELETE", "/api/v1/suppressions/<int:entry_id>"): {
        "404": "no such entry",
        "422": "`invalid`: `reason` is missing or not one line",
    },
    ("GET", "/api/v1/subscribers/<int:subscriber_id>/timeline"): {
        "404": "no such subscriber",
        "422": "`invalid`: `limit` or `cursor` (named in `field`)",
    },
    ("POST", "/api/v1/api-keys"): {
        "409": "`conflict`: an active key has this name",
        "422": "`invalid`: `name` or `scopes` (named in `field`)",
    },
    ("DELETE", "/api/v1/api-keys/<name>"): {
        "404": "no active key has this name",
        "409": "`own_key`: the key making the request cannot revoke itself",
    },
    ("POST", "/api/v1/digest-preview/<slug>/test"): {
        "404": "no such newsletter",
        "409": "`no_articles`: too few new articles, this digest would be skipped",
        "422": "`required`, `invalid_email` or `unknown_locale` (naming the `available` ones)",
    },
    ("GET", "/api/v1/digest-preview/<slug>"): {
        "404": "no such newsletter, or `no_articles`: this digest would be skipped "
        "(`skipped`: the articles left out, by reason)",
        "422": "`unknown_locale` (naming the `available` ones), or `invalid`: `format` is "
        "neither html nor text",
    },
}
# Links between operations (the stateful phase of a fuzzer follows them): (METHOD, rule) ->
# {status: {link name: (operationId, {parameter: runtime expression})}}.
_SLUG = {"slug": "$response.body#/slug"}
_FIRST_SLUG = {"slug": "$response.body#/newsletters/0/slug"}
_SEND = {"send_id": "$response.body#/id"}
_FIRST_SEND = {"send_id": "$response.body#/sends/0/id"}
LINKS: dict[tuple[str, str], dict[str, dict[str, tuple[str, dict[str, str]]]]] = {
    ("POST", "/api/v1/newsletters"): {
        "201": {
            "UpdateNewsletter": ("admin_newsletters.update.patch", _SLUG),
            "CreateSend": ("sends.create_send.post", _SLUG),
            "PreviewDigest": ("articles.digest_preview.get", _SLUG),
            "TestDigest": ("articles.digest_test.post", _SLUG),
        }
    },
    ("GET", "/api/v1/newsletters"): {
        "200": {
            "PreviewDigest": ("articles.digest_preview.get", _FIRST_SLUG),
            "TestDigest": ("articles.digest_test.post", _FIRST_SLUG),
            "CreateSend": ("sends.create_send.post", _FIRST_SLUG),
        }
    },
    ("GET", "/api/v1/sends"): {
        "200": {
            "ShowSend": ("sends.show_send.get", _FIRST_SEND),
            "PauseSend": ("sends.control_send.post.pause", _FIRST_SEND),
            "CancelSend": ("sends.control_send.post.cancel", _FIRST_SEND),
        }
    },
    ("POST", "/api/v1/suppressions"): {
        "201": {
            "RemoveSuppression": (
                "suppressions.remove_suppression.delete",
                {"entry_id": "$response.body#/id"},
            )
        }
    },
    ("GET", "/api/v1/subscribers"): {
        "200": {
            "Timeline": (
                "admin_subscribers.timeline.get",
                {"subscriber_id": "$response.body#/subscribers/0/id"},
            )
        }
    },
    ("POST", "/api/v1/api-keys"): {
        "201": {"RevokeKey": ("api_keys.revoke_key.delete", {"name": "$response.body#/name"})}
    },
    ("POST", "/api/v1/newsletters/<slug>/sends"): {
        "201": {
            "ShowSend": ("sends.show_send.get", _SEND),
            "PauseSend": ("sends.control_send.post.pause", _SEND),
            "CancelSend": ("sends.control_send.post.cancel", _SEND),
        }
    },
}
RATE_LIMITED = {("POST", "/api/v1/subscriptions"), ("POST", "/confirm/<token>/resend"),
                ("POST", "/manage")}  # fmt: skip
