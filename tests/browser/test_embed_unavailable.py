"""The embed when the service cannot take a signup (database and spool both away): it says
so, waits out `Retry-After` and posts again by itself, a bounded number of times.

The service runs under gunicorn on a scratch PostgreSQL database behind a loopback TCP proxy
the test stops (tests/support/tcp_proxy.py), with its journal made unusable (a folder where
the file goes), so its answer is a real 503 with `Retry-After: 1` (`SIGNUP_RETRY_AFTER`).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from service import create_app
from service.extensions import db
from service.models import Newsletter
from tests.browser.conftest import AppServer, start_app
from tests.browser.test_embed import THANKS, api_requests, email, open_box, state
from tests.conftest import TEST_SECRET, migrate, scratch_postgres
from tests.support.processes import stop_process
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres


@pytest.fixture
def away_server(embed_env, tmp_path) -> Iterator[tuple[AppServer, TcpProxy]]:
    """The service on PostgreSQL through a proxy, with no journal it can write to."""
    with scratch_postgres() as url:
        proxy = TcpProxy(int(url.rsplit(":", 1)[1].split("/")[0])).start()
        proxied = f"postgresql://postgres@127.0.0.1:{proxy.port}/{url.rsplit('/', 1)[1]}"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path),
                          "SECRET_KEYS": [TEST_SECRET]})  # fmt: skip
        migrate(app)
        with app.app_context():
            db.session.add(Newsletter(slug="daily", name="Ukraine Daily"))
            db.session.commit()
            db.engine.dispose()
        instance = tmp_path / "instance"
        (instance / "signup-spool.jsonl").mkdir(parents=True)
        env = {**embed_env, "DATABASE_URL": proxied, "INSTANCE_PATH": str(instance),
               "SIGNUP_RETRY_AFTER": "1", "SIGNUP_MIN_SECONDS": "0"}  # fmt: skip
        env.pop("PORT", None)
        server = start_app(env, tmp_path / "gunicorn-away.log")
        server.instance = instance
        try:
            yield server, proxy
        finally:
            stop_process(server.process)
            proxy.close()


def test_the_box_posts_again_after_retry_after_and_gets_through(page, away_server, host_sites):
    server, proxy = away_server
    box = open_box(page, host_sites[0], server, newsletters="daily")
    sent = api_requests(page)
    proxy.refuse()
    box.get_by_label("Email address").fill(email())
    box.get_by_role("button", name="Subscribe").click()
    expect(box.locator("#msg")).to_contain_text("We cannot take signups right now")
    expect(box.locator("#msg")).to_contain_text("We will try again in 1 seconds by ourselves")
    assert state(box) == "waiting"
    expect(box.locator("button.go")).to_be_disabled()
    proxy.accept()  # the database is back before the box's next try
    expect(box.get_by_role("status")).to_have_text(THANKS, timeout=15_000)
    assert sent.count("POST") >= 2


def test_the_box_gives_up_after_three_tries_and_says_try_again(page, away_server, host_sites):
    server, proxy = away_server
    box = open_box(page, host_sites[0], server, newsletters="daily")
    sent = api_requests(page)
    proxy.refuse()
    box.get_by_label("Email address").fill(email())
    box.get_by_role("button", name="Subscribe").click()
    expect(box.locator("#msg")).to_have_text(
        "We cannot take signups right now. Please try again in a minute.", timeout=20_000
    )
    assert state(box) == "error"
    assert sent.count("POST") == 4  # the first and three automatic ones, no more
    shutil.rmtree(server.instance / "signup-spool.jsonl")
