"""The mail settings: DKIM keys, VERP domain, Feedback-ID sender, bounce server address."""

from __future__ import annotations

import pytest

from service.mail_settings import SettingError, default_sender_id, load
from tests.support.dkim_keys import dkim_config, ed25519_pem, rsa_pem

FROM = "newsletter@news.example.org"


def test_nothing_set_signs_nothing_and_has_defaults():
    got = load({}, {}, FROM)
    assert got["DKIM_PRIVATE_KEY"] == "" and got["BOUNCE_DOMAIN"] == ""
    assert (got["BOUNCE_SMTP_HOST"], got["BOUNCE_SMTP_PORT"]) == ("127.0.0.1", 2525)
    assert got["FEEDBACK_ID_SENDER"] == default_sender_id(FROM)


def test_the_default_sender_id_is_stable_and_gmails_size():
    one = default_sender_id(FROM)
    assert one == default_sender_id("other@NEWS.example.org") and 5 <= len(one) <= 15
    assert one != default_sender_id("x@another.example")


def test_a_key_may_be_a_file(tmp_path):
    got = load({}, dkim_config(tmp_path), FROM)
    assert got["DKIM_PRIVATE_KEY"] == rsa_pem()  # read from the file
    assert got["DKIM_ED25519_SELECTOR"] == "nl2026-ed25519"


def test_the_environment_is_read_and_overrides_win(tmp_path):
    env = {"BOUNCE_DOMAIN": "Bounces.News.Example.org.", "BOUNCE_SMTP_PORT": "2600"}
    got = load(env, {"FEEDBACK_ID_SENDER": "kyivindep"}, FROM)
    assert got["BOUNCE_DOMAIN"] == "bounces.news.example.org"
    assert (got["BOUNCE_SMTP_PORT"], got["FEEDBACK_ID_SENDER"]) == (2600, "kyivindep")


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"DKIM_SELECTOR": "s1"}, "DKIM needs"),
        ({"DKIM_SELECTOR": "s1", "DKIM_DOMAIN": "news.example.org"}, "DKIM needs"),
        ({"DKIM_ED25519_PRIVATE_KEY": "x"}, "DKIM_ED25519_PRIVATE_KEY"),
        ({**dkim_config(), "DKIM_SELECTOR": "bad selector"}, "DKIM_SELECTOR"),
        ({**dkim_config(), "DKIM_DOMAIN": "news..org"}, "DKIM_DOMAIN"),
        ({**dkim_config(), "DKIM_PRIVATE_KEY": "/nonexistent/key.pem"}, "cannot read"),
        ({**dkim_config(), "DKIM_PRIVATE_KEY": ed25519_pem()}, "RSA key of at least 2048"),
        ({**dkim_config(), "DKIM_ED25519_PRIVATE_KEY": rsa_pem()}, "must be an Ed25519 key"),
        ({"BOUNCE_DOMAIN": "bounces@news.example.org"}, "BOUNCE_DOMAIN"),
        ({"FEEDBACK_ID_SENDER": "abc"}, "FEEDBACK_ID_SENDER"),
        ({"FEEDBACK_ID_SENDER": "has:colon"}, "FEEDBACK_ID_SENDER"),
        ({"BOUNCE_SMTP_PORT": "70000"}, "BOUNCE_SMTP_PORT"),
    ],
)
def test_a_setting_that_cannot_work_is_named(settings, named):
    with pytest.raises(SettingError, match=named):
        load({}, settings, FROM)


def test_a_short_rsa_key_is_refused_and_no_error_repeats_a_key():
    short = rsa_pem(1024)
    with pytest.raises(SettingError) as caught:
        load({}, {**dkim_config(), "DKIM_PRIVATE_KEY": short}, FROM)
    assert "2048" in str(caught.value) and "PRIVATE KEY-----" not in str(caught.value)
    broken = rsa_pem().replace("A", "B", 40)
    with pytest.raises(SettingError) as caught:
        load({}, {**dkim_config(), "DKIM_PRIVATE_KEY": broken}, FROM)
    assert "PRIVATE KEY-----" not in str(caught.value)


def test_the_app_stops_at_the_start_naming_the_setting(tmp_path):
    from service import create_app
    from service.config import ConfigError

    with pytest.raises(ConfigError, match="DKIM needs"):
        create_app({"ENV": "test", "INSTANCE_PATH": str(tmp_path), "DKIM_SELECTOR": "s1"})
