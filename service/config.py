"""Layered configuration: embedded defaults, then the environment (and `.env`), then a test mapping.

Every process (web, worker, beat, CLI) builds its settings here, so all of them read the same
variables (docs/interface.md section 2). Development defaults need no server at all: SQLite under
`instance/`, Celery over kombu's SQLAlchemy transport on a SQLite file, mail as `.eml` files.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dotenv import load_dotenv

from service import feedback_settings as deliverability
from service import mail_settings as mail
from service.web_origins import normalize_origin

ROOT = Path(__file__).resolve().parent.parent

TRUE_WORDS = {"1", "true", "yes", "on"}
SECRET_KEY_MIN_LENGTH = 32
CAPTCHA_PROVIDERS = ("turnstile", "hcaptcha")
ENVIRONMENTS = ("development", "test", "production")


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says which variable to set."""


def _env_bool(value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in TRUE_WORDS


def _instance_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("INSTANCE_PATH") or ROOT / "instance").resolve()


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _absolute_database_url(url: str) -> str:
    """Resolve `sqlite:///relative.db` against the project root, so every process agrees."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return _sqlite_url(ROOT / url[len(prefix) :])
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _make_instance_dir(instance: Path) -> None:
    """Create the instance folder (SQLite files, beat's schedule, the dev outbox) if missing."""
    try:
        instance.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"INSTANCE_PATH {instance} cannot be created ({exc.strerror}): "
            "point INSTANCE_PATH at a writable folder."
        ) from None


def _dev_secret_key(instance: Path) -> str:
    """A key generated once into `instance/` so dev links survive restarts."""
    key_file = instance / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return key_file.read_text().strip()


# Sending (service.sending): readers per batch, leases, retries, the relay's rate and
# connections per worker. Each is read from the environment under its own name.
SEND_DEFAULTS: dict[str, int | float] = {
    "SEND_BATCH_SIZE": 300,
    "SEND_LEASE_SECONDS": 10,
    "SEND_RETRY_BASE_SECONDS": 5,
    "SEND_RETRY_MAX_SECONDS": 1800,
    "SEND_RETRY_DEADLINE_SECONDS": 4 * 3600,
    "SEND_MAX_CONSECUTIVE_FAILURES": 25,
    "SEND_RATE_LIMIT": 0.0,
    "SEND_CONNECTIONS": 4,
    "SEND_SCHEDULE_CATCHUP_SECONDS": 3600,
}


def _as_number(name: str, value: object, default: int | float) -> Any:
    """`value` (text from the environment, or a test mapping's number) as a number of
    `default`'s type, `default` if unset or blank; else a ConfigError naming `name`."""
    if isinstance(value, int | float):
        return type(default)(value)
    text = str(value or "").strip()
    if not text:
        return default
    try:
        return type(default)(text)
    except ValueError:
        kind = "a whole number" if isinstance(default, int) else "a number"
        raise ConfigError(f"{name} must be {kind} (default {default}), not {text!r}.") from None


def _number(env: Mapping[str, str], name: str, default: int | float) -> Any:
    """`name` from the environment as a number (`_as_number`) that is 0 or more."""
    value = _as_number(name, env.get(name), default)
    if value < 0 or value != value:  # negative, or NaN
        raise ConfigError(f"{name} must be 0 or more (default {default}), not {env[name]!r}.")
    return value


def _allowed_origins(text: str) -> list[str]:
    """`ALLOWED_ORIGINS`: `*`, or origins written as browsers send them (else no `Origin`
    header could ever match and every signup from that site would be refused)."""
    origins = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        try:
            origins.append(item if item == "*" else normalize_origin(item))
        except ValueError as exc:
            raise ConfigError(f"ALLOWED_ORIGINS: {exc}.") from None
    return list(dict.fromkeys(origins))


def _postgres_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    """PostgreSQL ends a session that holds a transaction open and says nothing for
    `DATABASE_IDLE_TRANSACTION_SECONDS`: a process cut off mid-transaction (its host off the
    network, frozen) would otherwise keep its row locks, and stall every worker that needs
    them, until TCP gives up on it hours later. No unit of work here idles that long."""
    milliseconds = int(settings["DATABASE_IDLE_TRANSACTION_SECONDS"] * 1000)
    return {
        "connect_args": {
            "options": f"-c idle_in_transaction_session_timeout={milliseconds}",
            # A server that does not answer at all is away after this, not after minutes.
            "connect_timeout": max(1, int(settings["DATABASE_CONNECT_TIMEOUT"])),
        }
    }


def load_settings(test_config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the app settings: defaults, overridden by the environment, then by `test_config`."""
    load_dotenv(ROOT / ".env", override=False)
    env = os.environ
    overrides = dict(test_config or {})
    instance = Path(overrides.get("INSTANCE_PATH") or _instance_dir(env))
    _make_instance_dir(instance)
    environment = (
        overrides.get("ENV") or env.get("APP_ENV") or env.get("FLASK_ENV") or "development"
    )
    if environment not in ENVIRONMENTS:
        name = "APP_ENV" if env.get("APP_ENV") else "FLASK_ENV"
        raise ConfigError(f"{name} is {environment!r}: use one of {', '.join(ENVIRONMENTS)}.")
    development = environment in {"development", "test"}
    port = _number(env, "PORT", 5000)

    settings: dict[str, Any] = {
        "ENV": environment,
        "INSTANCE_PATH": str(instance),
        "PORT": port,
        "PUBLIC_URL": (env.get("PUBLIC_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
        "SQLALCHEMY_DATABASE_URI": _absolute_database_url(
            env.get("DATABASE_URL") or _sqlite_url(instance / "newsletter.db")
        ),
        "CELERY_BROKER_URL": env.get("CELERY_BROKER_URL")
        or f"sqla+sqlite:///{instance / 'broker.db'}",
        "REDIS_URL": env.get("REDIS_URL") or None,
        "MAIL_URL": env.get("MAIL_URL") or f"file://{instance / 'outbox'}",
        "MAIL_FROM": env.get("MAIL_FROM") or "newsletter@localhost",
        # Accept non-ASCII local parts only when the relay supports SMTPUTF8.
        "SMTPUTF8": _env_bool(env.get("SMTPUTF8"), False),
        "PUBLISHER_NAME": env.get("PUBLISHER_NAME") or "The Kyiv Independent",
        "PUBLISHER_ADDRESS": env.get("PUBLISHER_ADDRESS") or "Kyiv, Ukraine",
        "SECRET_KEYS": [k.strip() for k in env.get("SECRET_KEY", "").split(",") if k.strip()],
        "ALLOWED_ORIGINS": _allowed_origins(env.get("ALLOWED_ORIGINS", "")),
        "CONFIRM_TOKEN_MAX_AGE": _number(env, "CONFIRM_TOKEN_MAX_AGE", 604800),
        # A signup sent sooner than this after its form was shown is a bot's (0: no check).
        "SIGNUP_MIN_SECONDS": _number(env, "SIGNUP_MIN_SECONDS", 2.0),
        # Retry-After of a signup neither the database nor the spool could take.
        "SIGNUP_RETRY_AFTER": _number(env, "SIGNUP_RETRY_AFTER", 30.0),
        # Optional human check on signup: turnstile | hcaptcha | "" (off).
        "CAPTCHA_PROVIDER": (env.get("CAPTCHA_PROVIDER") or "").strip().lower(),
        "CAPTCHA_SITE_KEY": env.get("CAPTCHA_SITE_KEY") or "",
        "CAPTCHA_SECRET_KEY": env.get("CAPTCHA_SECRET_KEY") or "",
        "CAPTCHA_VERIFY_URL": env.get("CAPTCHA_VERIFY_URL") or "",
        "CAPTCHA_TIMEOUT": _number(env, "CAPTCHA_TIMEOUT", 3.0),
        "RATELIMIT_ENABLED": _env_bool(env.get("RATELIMIT_ENABLED"), True),
        "SIGNUP_RATE_LIMIT_IP": env.get("SIGNUP_RATE_LIMIT_IP") or "20/minute;200/hour",
        "SIGNUP_RATE_LIMIT_ADDRESS": env.get("SIGNUP_RATE_LIMIT_ADDRESS") or "5/hour",
        # Seconds the limits' Redis may take to answer before a signup goes on without it.
        "RATELIMIT_STORAGE_TIMEOUT": _number(env, "RATELIMIT_STORAGE_TIMEOUT", 0.25),
        "CONFIRMATION_RESEND_SECONDS": _number(env, "CONFIRMATION_RESEND_SECONDS", 600),
        "MAX_CONTENT_LENGTH": 16 * 1024,
        # A CSV list uploaded to POST /api/v1/imports may be this big (MiB in the environment).
        "IMPORT_MAX_BYTES": max(int(_number(env, "IMPORT_MAX_MB", 20) * 1024 * 1024), 1 << 16),
        "BROKER_PUBLISH_TIMEOUT": _number(env, "BROKER_PUBLISH_TIMEOUT", 0.5),
        # OUTBOX_RELAY_INTERVAL is the old name, still read.
        "OUTBOX_SWEEP_INTERVAL": _number(
            env, "OUTBOX_SWEEP_INTERVAL", _number(env, "OUTBOX_RELAY_INTERVAL", 10.0)
        ),
        # Workers and beat record a heartbeat this often; /readyz warns after 3 missed ones.
        "HEARTBEAT_SECONDS": _number(env, "HEARTBEAT_SECONDS", 15.0) or 15.0,
        "LOG_LEVEL": env.get("LOG_LEVEL") or "INFO",
        "PENDING_EXPIRY_DAYS": _number(env, "PENDING_EXPIRY_DAYS", 30),
        "UNSUBSCRIBE_MAILTO": env.get("UNSUBSCRIBE_MAILTO") or "",
        "DATABASE_IDLE_TRANSACTION_SECONDS": _number(
            env, "DATABASE_IDLE_TRANSACTION_SECONDS", 60.0
        ),
        # Webhook endpoints on private, loopback or link-local addresses (tests, an intranet).
        "DATABASE_CONNECT_TIMEOUT": _number(env, "DATABASE_CONNECT_TIMEOUT", 5.0),
        "WEBHOOK_ALLOW_PRIVATE": _env_bool(env.get("WEBHOOK_ALLOW_PRIVATE"), False),
        "WEBHOOK_TIMEOUT": _number(env, "WEBHOOK_TIMEOUT", 10.0),
        # The staff console: every member must turn on two-step sign-in (TOTP) first.
        "CONSOLE_REQUIRE_TOTP": _env_bool(env.get("CONSOLE_REQUIRE_TOTP"), False),
        # Failed console sign-ins allowed per account and per IP; invitation links' lifetime.
        "CONSOLE_SIGN_IN_LIMIT": env.get("CONSOLE_SIGN_IN_LIMIT") or "10/minute;50/hour",
        "STAFF_INVITE_HOURS": _number(env, "STAFF_INVITE_HOURS", 72),
        # GET /metrics answers only this bearer token; unset: 404 (service/http/metrics.py).
        "METRICS_TOKEN": (env.get("METRICS_TOKEN") or "").strip(),
    }
    settings.update({name: env.get(name) or default for name, default in SEND_DEFAULTS.items()})
    settings.update(overrides)
    for name, default in SEND_DEFAULTS.items():
        settings[name] = _as_number(name, settings[name], default)
    try:  # bounces and complaints in: thresholds and provider secrets
        settings.update(deliverability.load(env, overrides))
    except deliverability.SettingError as exc:
        raise ConfigError(str(exc)) from None
    settings["SQLALCHEMY_DATABASE_URI"] = _absolute_database_url(
        settings["SQLALCHEMY_DATABASE_URI"]
    )
    if settings["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        settings.setdefault("SQLALCHEMY_ENGINE_OPTIONS", _postgres_options(settings))
    if not settings["ALLOWED_ORIGINS"] and development:
        settings["ALLOWED_ORIGINS"] = ["*"]
    if not settings["SECRET_KEYS"]:
        if not development:
            raise ConfigError(
                "SECRET_KEY is required outside development: set it to a long random string "
                "(a comma-separated list rotates keys, newest first)."
            )
        settings["SECRET_KEYS"] = [_dev_secret_key(instance)]
    if not development and any(len(k) < SECRET_KEY_MIN_LENGTH for k in settings["SECRET_KEYS"]):
        raise ConfigError(
            f"SECRET_KEY is too short: each key needs at least {SECRET_KEY_MIN_LENGTH} characters "
            "in production (generate one with: python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(48))')."
        )
    settings["SECRET_KEY"] = settings["SECRET_KEYS"][0]
    settings["PUBLIC_URL"] = _public_url(settings["PUBLIC_URL"])
    _check_captcha(settings)
    try:  # DKIM, VERP, Feedback-ID and the bounce server (service/mail_settings.py)
        settings.update(mail.load(env, overrides, settings["MAIL_FROM"]))
    except mail.SettingError as exc:
        raise ConfigError(str(exc)) from None
    _check_metrics(settings, development)
    return settings


def _public_url(value: str) -> str:
    """`PUBLIC_URL`: an http(s) URL whose origin is the service's own (links in mail, the
    origin its pages post from); a path is kept, a query, fragment or user info is refused."""
    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    try:
        normalize_origin(f"{parts.scheme}://{parts.netloc}")
    except ValueError:
        raise ConfigError(
            f"PUBLIC_URL must be an http(s) URL like https://news.example.org, not {value!r}."
        ) from None
    if parts.query or parts.fragment:
        raise ConfigError(f"PUBLIC_URL must have no query or fragment: {value!r}.")
    return text


def _check_metrics(settings: Mapping[str, Any], development: bool) -> None:
    """In production a metrics token is as long as a key, and the counters of every process
    add up (prometheus-client's multiprocess directory), or /metrics would show one's."""
    token = settings["METRICS_TOKEN"]
    if not token or development:
        return
    if len(token) < SECRET_KEY_MIN_LENGTH:
        raise ConfigError(f"METRICS_TOKEN needs at least {SECRET_KEY_MIN_LENGTH} characters.")
    if not (os.environ.get("PROMETHEUS_MULTIPROC_DIR") or "").strip():
        raise ConfigError(
            "METRICS_TOKEN is set but PROMETHEUS_MULTIPROC_DIR is not: set it to a directory "
            "every process of this host shares (see README, Metrics)."
        )


def _check_captcha(settings: Mapping[str, Any]) -> None:
    """A captcha provider needs both of its keys; an unknown provider is a typo."""
    provider = settings["CAPTCHA_PROVIDER"]
    if not provider:
        return
    if provider not in CAPTCHA_PROVIDERS:
        raise ConfigError(f"CAPTCHA_PROVIDER must be one of {', '.join(CAPTCHA_PROVIDERS)}.")
    if not (settings["CAPTCHA_SITE_KEY"] and settings["CAPTCHA_SECRET_KEY"]):
        raise ConfigError(
            f"CAPTCHA_PROVIDER={provider} needs CAPTCHA_SITE_KEY and CAPTCHA_SECRET_KEY."
        )
