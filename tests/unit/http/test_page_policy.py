"""Pages that carry a secret (a link token) are never stored by a cache, whatever they answer."""

from __future__ import annotations

import pytest
import time_machine

from service.leaving.links import preferences_token, unsubscribe_token
from service.models import utcnow
from service.signup.confirm import confirmation_token
from tests.support import readers


@pytest.fixture
def tokens(add_newsletter) -> dict[str, str]:
    daily = add_newsletter("daily", name="Ukraine Daily")
    pending = readers.add_reader(daily, status="pending", email="olena@gmail.com")
    with time_machine.travel(utcnow().timestamp() - 8 * 86400, tick=False):
        expired = confirmation_token(pending)
    return {
        "confirm": confirmation_token(pending),
        "expired": expired,
        "unsubscribe": unsubscribe_token(pending.id, daily.id),
        "preferences": preferences_token(pending.id),
    }


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/confirm/{confirm}", 200),
        ("HEAD", "/confirm/{confirm}", 200),
        ("POST", "/confirm/{confirm}", 200),
        ("GET", "/confirm/{expired}", 410),
        ("POST", "/confirm/{expired}/resend", 202),
        ("GET", "/confirm/{confirm}x", 400),
        ("GET", "/unsubscribe/{unsubscribe}", 200),
        ("GET", "/unsubscribe/not-a-token", 400),
        ("GET", "/preferences/{preferences}", 200),
        ("POST", "/preferences/{preferences}", 400),  # without its form value
    ],
)
def test_every_token_page_says_no_store(unit_app, tokens, method, path, status):
    answer = unit_app.test_client().open(path.format(**tokens), method=method)
    assert answer.status_code == status
    assert answer.headers["Cache-Control"] == "no-store"


def test_pages_without_a_secret_keep_their_caching(unit_app, add_newsletter):
    add_newsletter("daily", name="Ukraine Daily")
    assert "no-store" not in unit_app.test_client().get("/subscribe").headers.get(
        "Cache-Control", ""
    )
