"""`GET /openapi.json`: the OpenAPI 3 document, generated from the app's routes at request time.

Paths, methods and summaries come from `app.url_map` and the view docstrings, so a new
endpoint appears without anyone editing this file; admin views are recognised by the
`require_api_key` wrapper. Request and response bodies come from the small table below.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from apispec import APISpec
from flask import Blueprint, Flask, current_app, jsonify

from service.http import input_guard
from service.http import webhooks as webhook_api
from service.http.auth import require_api_key
from service.i18n import LOCALES

bp = Blueprint("openapi", __name__)

SKIPPED_ENDPOINTS = {"static"}
DEV_PREFIX = "demo."  # the dev-only demo pages are not part of the API
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
_CONVERTER = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")
_ADMIN_CODE = require_api_key(lambda: None).__code__

_STR = {"type": "string"}
_STR_NULL = {"type": "string", "nullable": True}
_TIME = {"type": "string", "format": "date-time", "nullable": True}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        "type": "object",
        "required": ["status", "code", "message"],
        "properties": {
            "status": {"type": "string", "enum": ["error"]},
            "code": _STR,
            "field": _STR,
            "message": _STR,
            "suggestion": _STR,
            "available": {
                "type": "array",
                "items": _STR,
                "description": "with `unknown_locale`: the locales there are",
            },
        },
    },
    "SignupRequest": {
        "type": "object",
        "description": "`email` is needed (422 `required` without it), except that a request a "
        "bot trap catches (honeypot, too fast) gets the same 202 whatever it carries.",
        "properties": {
            "email": {"type": "string", "minLength": 1},
            "form": {"type": "string", "description": "which hosted form sent it"},
            "newsletters": {"oneOf": [_STR, {"type": "array", "items": _STR}]},
            "name": _STR,
            "locale": {
                "type": "string",
                "enum": [*LOCALES, ""],
                "description": "absent or empty: from `Accept-Language`; a locale with no "
                "catalogue: 422 `unknown_locale`",
            },
            "source_url": _STR,
            "website": {"type": "string", "description": "honeypot: must be empty"},
            "confirm_address": {
                "type": "boolean",
                "description": "the reader insists on an address the service suggested a fix "
                "for (form: true/1/on)",
            },
            "form_stamp": {
                "type": "string",
                "description": "signed render time from a hosted form (minimum time-to-submit)",
            },
            "elapsed_ms": {
                "type": "number",
                "description": "ms since the embed drew the box (minimum time-to-submit)",
            },
            "cf-turnstile-response": {"type": "string", "description": "Turnstile token"},
            "h-captcha-response": {"type": "string", "description": "hCaptcha token"},
        },
    },
    "SignupAccepted": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["pending"]},
            "code": {"type": "string", "enum": ["confirmation_sent"]},
            "message": _STR,
        },
    },
    "NewsletterFields": {
        "type": "object",
        "properties": {
            "name": _STR,
            "description": _STR,
            "schedule": {"type": "string", "nullable": True, "description": "cron expression"},
            "timezone": {"type": "string", "description": "IANA time zone, e.g. Europe/Kyiv"},
            "from": {"type": "string", "format": "email", "nullable": True},
            "min_new_articles": {"type": "integer", "minimum": 0},
            "allowed_origins": {
                "type": "array",
                "items": {"type": "string", "format": "uri"},
                "description": "origins (https://host[:port]) whose pages may sign readers up "
                "to this newsletter, besides ALLOWED_ORIGINS",
            },
            "rate_limit_per_second": {
                "type": "number",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 100000,
                "nullable": True,
                "description": "messages per second for this newsletter's sends; wins over "
                "SEND_RATE_LIMIT (null: use it)",
            },
            "translations": {
                "type": "object",
                "description": "the name and description in other languages, by locale "
                "(today: uk), shown to readers of that language (English where missing); "
                "a PATCH replaces all translations",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "maxLength": 200},
                        "description": {"type": "string", "maxLength": 10000},
                    },
                },
                "example": {"uk": {"name": "Щоденні новини", "description": "Найважливіше"}},
            },
            "sections": {
                "type": "array",
                "items": {"type": "string", "maxLength": 100},
                "maxItems": 50,
                "description": "the article sections it takes (empty or absent: all)",
            },
            "tags": {
                "type": "array",
                "items": {"type": "string", "maxLength": 100},
                "maxItems": 50,
                "description": "the article tags it takes, any of them (empty or absent: all)",
            },
            "feed_url": {
                "type": "string",
                "format": "uri",
                "nullable": True,
                "description": "its own RSS/Atom feed, polled: that feed's articles go to this "
                "newsletter only, and it takes no others (null: the site's articles)",
            },
            "is_public": {
                "type": "boolean",
                "description": "listed on public pages: the embed's list, /subscribe, /forms, "
                "preference pages, the archive",
            },
            "archived": {
                "type": "boolean",
                "description": "no sends, on no public page, no new signups; readers kept",
            },
            "late_articles": {
                "type": "string",
                "enum": ["include", "skip"],
                "description": "an article published before the last send started but stored "
                "after it: the next digest takes it (include) or skips it, saying so",
            },
        },
    },
    "NewsletterCreate": {
        "allOf": [
            {"$ref": "#/components/schemas/NewsletterFields"},
            {"type": "object", "required": ["slug", "name"], "properties": {"slug": _STR}},
        ]
    },
    "Newsletter": {
        "allOf": [
            {"$ref": "#/components/schemas/NewsletterFields"},
            {
                "type": "object",
                "properties": {"slug": _STR, "created_at": _TIME, "updated_at": _TIME},
            },
        ]
    },
    "NewsletterList": {
        "type": "object",
        "properties": {
            "newsletters": {"type": "array", "items": {"$ref": "#/components/schemas/Newsletter"}}
        },
    },
    "Article": {
        "type": "object",
        "required": ["title", "url"],
        "properties": {
            "title": {
                "type": "string",
                "minLength": 1,
                "description": "cut to 500 characters",
            },
            "url": {"type": "string", "format": "uri", "minLength": 1, "maxLength": 2000},
            "summary": {"description": "HTML, cleaned; any empty value means none"},
            "image_url": {"type": "string", "format": "uri"},
            "authors": {"type": "array", "items": _STR},
            "published_at": {"type": "string", "format": "date-time"},
            "section": _STR,
            "editors_pick": {"type": "boolean"},
        },
    },
    "ArticleRequest": {
        "oneOf": [
            {"$ref": "#/components/schemas/Article"},
            {
                "type": "array",
                "maxItems": 500,
                "description": "up to 500 articles; each is checked alone, and a bad one is an "
                "`error` entry in `results`, not a 4xx for the list",
                "items": {"anyOf": [{"$ref": "#/components/schemas/Article"}, {}]},
            },
        ]
    },
    "ArticleSaved": {
        "type": "object",
        "required": ["id", "url", "status"],
        "properties": {
            "id": {"type": "integer"},
            "url": _STR,
            "status": {"type": "string", "enum": ["created", "updated"]},
        },
    },
    "ArticleBatch": {
        "type": "object",
        "required": ["results", "created", "updated", "errors"],
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "enum": ["created", "updated", "error"]},
                        "field": _STR,
                        "message": _STR,
                    },
                },
            },
            "created": {"type": "integer"},
            "updated": {"type": "integer"},
            "errors": {"type": "integer"},
        },
    },
    "ArticleAnswer": {
        "oneOf": [
            {"$ref": "#/components/schemas/ArticleSaved"},
            {"$ref": "#/components/schemas/ArticleBatch"},
        ]
    },
    "TestSendRequest": {
        "type": "object",
        "required": ["email"],
        "example": {"email": "editor@gmail.com", "locale": "uk"},
        "properties": {
            "email": {"type": "string", "minLength": 1},
            "locale": {
                "type": "string",
                "enum": [*LOCALES, ""],
                "description": "absent or empty: en",
            },
        },
    },
    "TestSendQueued": {
        "type": "object",
        "required": ["status", "job_id"],
        "properties": {
            "status": {"type": "string", "enum": ["queued"]},
            "job_id": {"type": "integer"},
        },
    },
    "ApiIndex": {
        "type": "object",
        "required": ["openapi", "links"],
        "properties": {
            "service": _STR,
            "version": _STR,
            "openapi": _STR,
            "authentication": _STR,
            "links": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"href": _STR, "auth": _STR, "description": _STR},
                },
            },
        },
    },
    "SendRequest": {
        "type": "object",
        "properties": {
            "scheduled_at": {
                "anyOf": [
                    {"type": "string", "format": "date-time"},
                    {"type": "string", "maxLength": 0},
                ],
                "nullable": True,
                "description": "ISO 8601; absent, null or empty: now",
            }
        },
    },
    "Send": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "newsletter": _STR,
            "status": {
                "type": "string",
                "enum": [
                    "scheduled",
                    "sending",
                    "paused",
                    "sent",
                    "cancelled",
                    "skipped",
                    "failed",
                ],
            },
            "total": {"type": "integer"},
            "sent": {"type": "integer"},
            "failed": {"type": "integer"},
            "skipped": {"type": "integer"},
            "scheduled_at": _TIME,
            "started_at": _TIME,
            "finished_at": _TIME,
            "articles_skipped": {
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "articles the digest left out, by reason: `late` (published "
                "before the last send started, stored after it, late_articles skip), "
                "`too_old` (published more than a digest period before it)",
            },
        },
    },
    "Subscriber": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": _STR,
            "name": _STR_NULL,
            "created_at": _TIME,
            "subscriptions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "newsletter": _STR,
                        "status": {
                            "type": "string",
                            "enum": ["pending", "confirmed", "unsubscribed", "bounced"],
                        },
                    },
                },
            },
        },
    },
    "SubscriberList": {
        "type": "object",
        "properties": {
            "subscribers": {"type": "array", "items": {"$ref": "#/components/schemas/Subscriber"}}
        },
    },
    "SubscriberExport": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "email": _STR,
            "subscriptions": {"type": "array", "items": {"type": "object"}},
            "events": {"type": "array", "items": {"type": "object"}},
            "consent_records": {"type": "array", "items": {"type": "object"}},
            "deliveries": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Erased": {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "status": {"type": "string", "enum": ["erased"]}},
    },
}

# (METHOD, rule) -> request schema, success status, response schema (None: not JSON).
BODIES: dict[tuple[str, str], tuple[str | None, str, str | None]] = {
    ("POST", "/api/v1/subscriptions"): ("SignupRequest", "202", "SignupAccepted"),
    ("POST", "/api/v1/articles"): ("ArticleRequest", "201", "ArticleAnswer"),
    ("GET", "/api/v1/newsletters"): (None, "200", "NewsletterList"),
    ("POST", "/api/v1/newsletters"): ("NewsletterCreate", "201", "Newsletter"),
    ("PATCH", "/api/v1/newsletters/<slug>"): ("NewsletterFields", "200", "Newsletter"),
    ("DELETE", "/api/v1/newsletters/<slug>"): (None, "204", None),
    ("POST", "/api/v1/newsletters/<slug>/sends"): ("SendRequest", "201", "Send"),
    ("GET", "/api/v1/sends/<int:send_id>"): (None, "200", "Send"),
    ("GET", "/api/v1/subscribers"): (None, "200", "SubscriberList"),
    ("GET", "/api/v1/subscribers/<int:subscriber_id>/export"): (None, "200", "SubscriberExport"),
    ("DELETE", "/api/v1/subscribers/<int:subscriber_id>"): (None, "200", "Erased"),
    ("POST", "/api/v1/digest-preview/<slug>/test"): ("TestSendRequest", "202", "TestSendQueued"),
    ("GET", "/api/v1/"): (None, "200", "ApiIndex"),
}
# Query parameters a view reads: endpoint -> their OpenAPI parameter objects.
QUERY: dict[str, list[dict[str, Any]]] = {
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
# Headers of a success answer: endpoint -> their OpenAPI header objects.
HEADERS: dict[str, dict[str, Any]] = {
    "articles.digest_preview": {
        "Digest-Skipped": {
            "description": "present when the digest leaves articles out: how many and why",
            "schema": {"type": "string"},
        }
    }
}
# Answers besides success that a view gives by itself: (METHOD, rule) -> {status: description}.
ERRORS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/api/v1/subscriptions"): {
        "400": "`bad_request`: the body is not a signup (JSON object or form)",
        "403": "`origin_not_allowed`: this page's origin may not sign up to these newsletters",
        "422": "`required`, `invalid_email` (with `suggestion` for a likely typo), "
        "`unknown_newsletter`, `unknown_locale` or `captcha_failed`",
        "503": "`captcha_unavailable`: the captcha provider is unreachable; retry after "
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
    ("PATCH", "/api/v1/newsletters/<slug>"): {
        "404": "no such newsletter",
        "422": "a field is invalid (named in `field`)",
    },
    ("DELETE", "/api/v1/newsletters/<slug>"): {
        "404": "no such newsletter",
        "409": "`newsletter_in_use`: it has confirmed readers or sends that started "
        "(`readers`, `sends`); archive it instead",
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
    ("POST", "/api/v1/newsletters/<slug>/sends"): {
        "201": {
            "ShowSend": ("sends.show_send.get", _SEND),
            "PauseSend": ("sends.control_send.post.pause", _SEND),
            "CancelSend": ("sends.control_send.post.cancel", _SEND),
        }
    },
}
# Collections that declare their own tables beside their views.
for _api in (webhook_api,):
    SCHEMAS.update(_api.SCHEMAS)
    BODIES.update(_api.BODIES)
    ERRORS.update(_api.ERRORS)
    LINKS.update(_api.LINKS)
RATE_LIMITED = {("POST", "/api/v1/subscriptions"), ("POST", "/confirm/<token>/resend"),
                ("POST", "/manage")}  # fmt: skip
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_PAGE = {"schema": {"type": "string"}}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before trying again",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}
API_DESCRIPTION = (
    "Newsletter signup, confirmation, digests and their admin API.\n\n"
    "Every route refuses, before its view runs: a body over 16 KiB (413 `too_large`), JSON "
    f"nested more than {input_guard.MAX_JSON_DEPTH} levels or holding NaN/Infinity (400 "
    "`bad_request`), a NUL character anywhere in the path, query, form or JSON (400 "
    f"`bad_request`, naming the field); an id above {input_guard.MAX_ID} matches no route "
    "(404); a `locale` (query, form or JSON field) with no catalogue is a 422 "
    "`unknown_locale` naming the `available` ones. The 16 KiB hold whatever the body's framing "
    "(`Content-Length` or chunked). Errors share one shape (`Error`); hosted pages answer "
    "theirs as a page."
)


def openapi_paths(rule: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """A werkzeug rule as OpenAPI paths (`/sends/{send_id}`) with their path parameters.

    An `any(a, b)` converter becomes one literal path per choice.
    """
    for match in _CONVERTER.finditer(rule):
        if match["converter"] == "any":
            choices = [c.strip().strip("'\"") for c in (match["args"] or "").split(",")]
            head, tail = rule[: match.start()], rule[match.end() :]
            return [found for c in choices if c for found in openapi_paths(head + c + tail)]
    parameters = []
    for match in _CONVERTER.finditer(rule):
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if match["converter"] == "int":
            schema = {"type": "integer", "minimum": 0, "maximum": input_guard.MAX_ID}
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return [(_CONVERTER.sub(r"{\g<name>}", rule), parameters)]


def is_admin_view(view: Any) -> bool:
    """True if `view` is wrapped by `require_api_key` (anywhere in its decorator chain)."""
    while view is not None:
        if getattr(view, "__code__", None) is _ADMIN_CODE:
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def _content(media: tuple[str, ...], schema: str | None) -> dict[str, Any]:
    content: dict[str, Any] = {}
    for kind in media:
        if kind == "application/json":
            ref = {"$ref": f"#/components/schemas/{schema}"} if schema else {}
            content[kind] = {"schema": ref}
        else:
            content[kind] = _PAGE
    return content


def _request_body(endpoint: str, method: str, rule: str) -> dict[str, Any] | None:
    request_schema = BODIES.get((method, rule), (None, "", None))[0]
    if request_schema:
        content = _content(("application/json",), request_schema)
        if endpoint in ALSO_HTML:
            ref = content["application/json"]
            content.update(dict.fromkeys(FORM_TYPES, ref))
        return {"required": (method, rule) not in OPTIONAL_BODIES, "content": content}
    if endpoint in FORM_FIELDS:
        fields = {name: {"type": "string"} for name in FORM_FIELDS[endpoint]}
        form = {"schema": {"type": "object", "properties": fields}}
        return {"required": False, "content": dict.fromkeys(FORM_TYPES, form)}
    return None


def _operation(app: Flask, rule: Any, method: str, path: str) -> dict[str, Any]:
    view = app.view_functions[rule.endpoint]
    suffix = "" if "any(" not in rule.rule else "." + path.rstrip("/").rsplit("/", 1)[-1]
    doc = inspect.getdoc(view) or rule.endpoint
    summary, _, description = doc.partition("\n")
    media = MEDIA.get(rule.endpoint, ("application/json",))
    if rule.endpoint in ALSO_HTML:
        media = ("application/json", HTML)
    error_media = {"application/json": _ERROR["content"]["application/json"]}
    if HTML in media:
        error_media[HTML] = _PAGE
    operation: dict[str, Any] = {
        "operationId": f"{rule.endpoint}.{method.lower()}{suffix}",
        "summary": summary.strip(),
        "tags": [rule.endpoint.partition(".")[0]],
        "responses": {"default": {"description": "error", "content": error_media}},
    }
    if description.strip():
        operation["description"] = description.strip()
    if rule.endpoint in QUERY:
        operation["parameters"] = QUERY[rule.endpoint]
    body = _request_body(rule.endpoint, method, rule.rule)
    if body:
        operation["requestBody"] = body
        operation["responses"]["413"] = {
            "description": "`too_large`: the body is over 16 KiB",
            **_ERROR,
        }
    _, status, response_schema = BODIES.get((method, rule.rule), (None, "200", None))
    success: dict[str, Any] = {"description": "success"}
    if response_schema or media != ("application/json",):
        success["content"] = _content(media, response_schema)
    if rule.endpoint in HEADERS:
        success["headers"] = HEADERS[rule.endpoint]
    operation["responses"][status] = success
    for code, links in LINKS.get((method, rule.rule), {}).items():
        operation["responses"][code]["links"] = {
            name: {"operationId": target, "parameters": parameters}
            for name, (target, parameters) in links.items()
        }
    if (method, rule.rule) == ("POST", "/api/v1/articles"):
        operation["responses"]["200"] = {"description": "only updates", **success}
    for code, text in ERRORS.get((method, rule.rule), {}).items():
        operation["responses"][code] = {"description": text, "content": error_media}
    if "503" in operation["responses"]:
        operation["responses"]["503"]["headers"] = _RETRY_AFTER
    if (method, rule.rule) in RATE_LIMITED:
        operation["responses"]["429"] = {
            "description": "`rate_limited`: too many requests from this address or IP",
            "headers": _RETRY_AFTER,
            "content": error_media,
        }
    if is_admin_view(view):
        operation["security"] = [{"bearer": []}]
        operation["responses"]["401"] = {
            "description": "missing or wrong API key",
            "headers": {
                "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}
            },
            **_ERROR,
        }
    return operation


def build_spec(app: Flask) -> dict[str, Any]:
    """The OpenAPI document for every route `app` serves right now."""
    spec = APISpec(
        title="newsletter-service",
        version="1",
        openapi_version="3.0.3",
        info={"description": API_DESCRIPTION},
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    paths: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in SKIPPED_ENDPOINTS or rule.endpoint.startswith(DEV_PREFIX):
            continue
        for path, parameters in openapi_paths(rule.rule):
            operations, _ = paths.setdefault(path, ({}, parameters))
            for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
                operations[method.lower()] = _operation(app, rule, method, path)
    for path, (operations, parameters) in paths.items():
        if operations:
            spec.path(path=path, operations=operations, parameters=parameters or None)
    return spec.to_dict()


@bp.get("/openapi.json")
def document():
    """The OpenAPI 3 document of this service, generated from its routes."""
    return jsonify(build_spec(current_app))
