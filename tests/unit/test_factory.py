"""The app factory: layered configuration and the production guard on SECRET_KEY."""

from __future__ import annotations

import pytest

from service import create_app
from service.config import SEND_DEFAULTS, ConfigError, load_settings


def test_test_config_overrides_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PORT", "7001")
    monkeypatch.setenv("MAIL_FROM", "env@news.example.org")
    app = create_app(
        {
            "INSTANCE_PATH": str(tmp_path),
            "MAIL_FROM": "mapping@news.example.org",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db",
        }
    )
    assert app.config["MAIL_FROM"] == "mapping@news.example.org"
    assert app.config["PUBLIC_URL"] == "http://127.0.0.1:7001"
    assert app.config["MAX_CONTENT_LENGTH"] == 16 * 1024
    assert "celery" in app.extensions


def test_secret_key_required_in_production(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"INSTANCE_PATH": str(tmp_path)})


def test_dev_secret_is_generated_once(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("APP_ENV", raising=False)
    first = load_settings({"INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    second = load_settings({"INSTANCE_PATH": str(tmp_path)})["SECRET_KEY"]
    assert first == second and len(first) > 40


def test_secret_key_list_newest_first(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "new, old")
    settings = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert settings["SECRET_KEYS"] == ["new", "old"] and settings["SECRET_KEY"] == "new"


def test_relative_sqlite_url_is_made_absolute(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "sqlite:///instance/newsletter.db")
    url = load_settings({"INSTANCE_PATH": str(tmp_path)})["SQLALCHEMY_DATABASE_URI"]
    assert url.startswith("sqlite:////") and url.endswith("/instance/newsletter.db")


def test_sending_settings_come_typed_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SEND_CONNECTIONS", "16")
    monkeypatch.setenv("SEND_RATE_LIMIT", "12.5")
    monkeypatch.delenv("SEND_BATCH_SIZE", raising=False)
    settings = load_settings({"INSTANCE_PATH": str(tmp_path), "SEND_LEASE_SECONDS": "7"})
    assert settings["SEND_CONNECTIONS"] == 16 and isinstance(settings["SEND_CONNECTIONS"], int)
    assert settings["SEND_RATE_LIMIT"] == 12.5
    assert settings["SEND_LEASE_SECONDS"] == 7  # a test mapping wins, and is typed too
    assert settings["SEND_BATCH_SIZE"] == SEND_DEFAULTS["SEND_BATCH_SIZE"]


def test_a_bad_sending_setting_stops_startup_with_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("SEND_CONNECTIONS", "many")
    with pytest.raises(ConfigError, match="SEND_CONNECTIONS must be a whole number"):
        load_settings({"INSTANCE_PATH": str(tmp_path)})


NUMBERS = [
    "PORT",
    "CONFIRM_TOKEN_MAX_AGE",
    "SIGNUP_MIN_SECONDS",
    "CAPTCHA_TIMEOUT",
    "RATELIMIT_STORAGE_TIMEOUT",
    "CONFIRMATION_RESEND_SECONDS",
    "BROKER_PUBLISH_TIMEOUT",
    "OUTBOX_SWEEP_INTERVAL",
    "OUTBOX_RELAY_INTERVAL",
    "PENDING_EXPIRY_DAYS",
    "DATABASE_IDLE_TRANSACTION_SECONDS",
]


@pytest.mark.parametrize("name", NUMBERS)
@pytest.mark.parametrize("value", ["ten", "1e", "-5", "nan", "7 days"])
def test_a_number_that_is_none_stops_the_start_naming_the_variable(
    monkeypatch, tmp_path, name, value
):
    """One line that says what to set, never a traceback from int() or float()."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=rf"^{name} must be .*not '{value}'"):
        load_settings({"INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize("name", NUMBERS)
def test_a_blank_number_is_its_default(monkeypatch, tmp_path, name):
    monkeypatch.setenv(name, " ")
    settings = load_settings({"INSTANCE_PATH": str(tmp_path)})
    monkeypatch.delenv(name)
    assert settings == load_settings({"INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize(
    "value",
    ["news.example.org", "ftp://news.example.org", "https://", "https://a@news.example.org",
     "https://news.example.org/?x=1", "https://news.example.org:99999"],
)  # fmt: skip
def test_a_public_url_that_is_no_http_url_stops_the_start(monkeypatch, tmp_path, value):
    """PUBLIC_URL is the service's own origin (the Host header is never asked): it must be one."""
    monkeypatch.setenv("PUBLIC_URL", value)
    with pytest.raises(ConfigError, match=r"^PUBLIC_URL must"):
        load_settings({"INSTANCE_PATH": str(tmp_path)})


def test_a_public_url_keeps_its_path_without_the_last_slash(monkeypatch, tmp_path):
    monkeypatch.setenv("PUBLIC_URL", "https://News.example.org/newsletters/")
    settings = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert settings["PUBLIC_URL"] == "https://News.example.org/newsletters"
