"""The request and response shapes of the OpenAPI document (`openapi.py` builds the rest from
the routes); limits come from the modules that enforce them."""

from __future__ import annotations

from typing import Any

from service.http.openapi_admin_schemas import ADMIN_SCHEMAS
from service.i18n import LOCALES

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
        "required": ["openapi", "docs", "links"],
        "properties": {
            "service": _STR,
            "version": _STR,
            "openapi": _STR,
            "docs": _STR,
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
            "possible_duplicates": {
                "type": "integer",
                "description": "readers who may have received the send twice because of a fault",
            },
            "waiting": {"type": "integer", "description": "readers not yet handed over"},
            "defer_reason": {
                **_STR_NULL,
                "description": "the relay's last answer or connection error while deferring",
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
        "required": ["subscribers", "next"],
        "properties": {
            "subscribers": {"type": "array", "items": {"$ref": "#/components/schemas/Subscriber"}},
            "next": {**_STR_NULL, "description": "cursor of the next page; null on the last"},
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
    **ADMIN_SCHEMAS,
}
