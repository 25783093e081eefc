"""Schemathesis against `/openapi.json`: the document describes what the API really does.

Every operation in the document is called over HTTP (werkzeug's server in a thread) on a migrated SQLite app with a
real API key, with every Schemathesis check on: examples, the coverage phase (deterministic:
every boundary the schema states) and a bounded number of generated cases per operation, then
the stateful phase (links between operations), bounded by steps. A failure means the code and
its document disagree, or an input gives a 500.

Decided here: the bulk of the run has rate limits off, so each generated case reaches the
view's own checks; one more pass, limits on and tiny, proves the 429 (with `Retry-After`) is
documented where it happens. A `422` counts as accepted positive data: the schema states the
shapes, the server also checks what no schema can (a deliverable address, a cron expression,
an IANA zone, an http(s) URL).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import schemathesis
from flask import Flask
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status
from schemathesis.engine.events import FatalError, NonFatalError, ScenarioFinished
from werkzeug.serving import make_server

from service.access.keys import create_api_key
from service.digests.articles import upsert_article
from service.extensions import db
from service.models import Newsletter, utcnow
from tests.conftest import app_for, free_port, plain_app, stack_env
from tests.support.readers import add_reader

Exchange = tuple[str, str, str, int]  # phase, method, URL path, status
MAX_EXAMPLES = 12
STATEFUL_STEPS = 24  # enough for the walk to reach a send among every operation (webhooks too)
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


def fuzz_config(key: str, max_examples: int = MAX_EXAMPLES) -> SchemathesisConfig:
    """All checks, a bounded number of examples, the real key sent on every call."""
    return SchemathesisConfig.from_dict(
        {
            "seed": 20261202,
            "headers": {"Authorization": f"Bearer {key}"},
            # NUL is refused everywhere with a 400 (documented once, in the API description).
            "generation": {"max-examples": max_examples, "database": "none", "allow-x00": False},
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ACCEPTED},
                "negative_data_rejection": {"expected-statuses": REJECTED},
            },
            # A token is signed: no schema can say which strings are valid ones (400, 410).
            "operations": [
                # Bot traps (honeypot, too-fast timing) answer the same 202 to anything, by
                # design: a bot must not learn which request gave it away.
                {
                    "include-path": "/api/v1/subscriptions",
                    "include-method": "POST",
                    "checks": {"negative_data_rejection": {"enabled": False}},
                },
                # The digest preview and its test send on a newsletter that has a digest to
                # show, so each case reaches the rendering (a made-up slug is only a 404).
                {
                    "include-path-regex": "^/api/v1/digest-preview/",
                    "parameters": {"slug": "daily"},
                },
                {
                    "include-path-regex": "^/(confirm|unsubscribe|preferences)/",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400", "410"]}
                    },
                },
            ],
            "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
        }
    )


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory, redis_server) -> Iterator[Flask]:
    """One migrated app for the module, the demo newsletters in it, errors answered (no raise)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with plain_app(f"sqlite:///{tmp / 'fuzz.db'}", redis_server, tmp) as app:
        app.testing = False
        app.config["PROPAGATE_EXCEPTIONS"] = False
        newsletters = [
            Newsletter(slug="daily", name="Ukraine Daily"),
            Newsletter(slug="explaining-ukraine", name="Explaining Ukraine"),
        ]
        db.session.add_all(newsletters)
        db.session.commit()
        for _ in range(10):  # confirmed readers (the fuzzer erases some): sends are made
            add_reader(*newsletters)
        for n in range(3):  # `daily` has a digest to preview and to test-send
            published = (utcnow() - timedelta(hours=n + 1)).isoformat()
            upsert_article({"title": f"Story {n}", "url": f"https://news.example.org/fuzz/{n}",
                            "published_at": published})  # fmt: skip
        yield app


@pytest.fixture(scope="module")
def fuzz_key(fuzz_app) -> str:
    return create_api_key("fuzz")


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """`app` over real HTTP on a loopback port, by werkzeug, in a thread of this process."""
    server = make_server("127.0.0.1", free_port(), app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="module")
def fuzz_url(fuzz_app) -> Iterator[str]:
    with serve(fuzz_app) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(fuzz_url, fuzz_key):
    return schemathesis.openapi.from_url(f"{fuzz_url}/openapi.json", config=fuzz_config(fuzz_key))


def run_schemathesis(
    schema, statuses: list[int] | None = None, answers: list[Exchange] | None = None
) -> tuple[int, list[str]]:
    """Run every phase the config enables; (cases checked, one line per failure or error).

    The status of every answer is appended to `statuses` if given, and (phase, method, URL
    path, status) to `answers`."""
    problems: list[str] = []
    checked = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, ScenarioFinished):
            done = [i for i in event.recorder.interactions.values() if i.response is not None]
            if statuses is not None:
                statuses.extend(i.response.status_code for i in done)
            if answers is not None:
                answers.extend(
                    (str(event.phase), i.request.method, urlsplit(i.request.uri).path,
                     i.response.status_code)
                    for i in done
                )  # fmt: skip
            for case_id, checks in event.recorder.checks.items():
                checked += 1
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info:
                        info = check.failure_info
                        problems.append(
                            f"[{event.phase}] {event.recorder.label}: {check.name}: "
                            f"{info.failure.title}\n{info.failure.message}\n{info.code_sample}"
                        )
                    elif check.status == Status.ERROR:
                        problems.append(
                            f"[{event.phase}] {event.recorder.label}: {check.name} errored ({case_id})"
                        )
        elif isinstance(event, NonFatalError | FatalError):
            problems.append(f"{type(event).__name__} in {event.label}: {event.value!r}")
    return checked, problems


def test_every_operation_and_link_matches_the_document(api_schema):
    answers: list[Exchange] = []
    checked, problems = run_schemathesis(api_schema, answers=answers)
    assert checked > 100, checked
    assert not problems, f"{len(problems)} failures:\n\n" + "\n\n".join(dict.fromkeys(problems))
    preview = "/api/v1/digest-preview/daily"
    # The previews of a real newsletter were rendered, and refused in an unknown locale.
    assert ("GET", preview, 200) in {a[1:] for a in answers}, sorted(set(answers))[:50]
    assert ("GET", preview, 422) in {a[1:] for a in answers}
    assert ("POST", preview + "/test", 202) in {a[1:] for a in answers}
    # The stateful phase followed links: an answer to a call made with a value from an
    # earlier answer (a newsletter made in the run, or a send).
    stateful = {(method, path) for phase, method, path, _ in answers if "stateful" in phase.lower()}
    assert any(path.startswith("/api/v1/sends/") for _, path in stateful), sorted(stateful)


def test_with_limits_on_the_signup_answers_the_documented_429(fuzz_app, fuzz_key, redis_server):
    env = stack_env(fuzz_app.config["SQLALCHEMY_DATABASE_URI"], f"{redis_server.url}/3",
                    f"{redis_server.url}/4", "memory://", Path(fuzz_app.config["INSTANCE_PATH"]))  # fmt: skip
    limited = app_for(
        env,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
        SIGNUP_RATE_LIMIT_IP="3/minute",
        TESTING=False,
        PROPAGATE_EXCEPTIONS=False,
    )
    with serve(limited) as url:
        config = fuzz_config(fuzz_key, max_examples=8)
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
        statuses: list[int] = []
        _, problems = run_schemathesis(schema.include(path="/api/v1/subscriptions"), statuses)
    assert 429 in statuses, sorted(set(statuses))
    assert not problems, "\n\n".join(dict.fromkeys(problems))
