"""Schemathesis against `/openapi.json`: the document describes what the API really does.

Every operation in the document is called over HTTP (werkzeug's server in a thread) on a
migrated app, once with a real key of each scope (`read`, `write`, `send`, `admin`) and once
with none, with every Schemathesis check on: examples, the coverage phase (deterministic:
every boundary the schema states) and a bounded number of generated cases per operation, then
the stateful phase (links between operations), bounded by steps. A failure means the code and
its document disagree, or an input gives a 500. A narrower key meets the documented 403
`insufficient_scope`, no key the documented 401.

The admin key runs on SQLite and on PostgreSQL with the most generated cases; the narrower
keys and no key run on SQLite with fewer (most of their calls end at the key check), so the
whole module stays within about four minutes on a loaded two-core machine.

Decided here: the bulk of the run has rate limits off, so each generated case reaches the
view's own checks; one more pass, limits on and tiny, proves the 429 (with `Retry-After`) is
documented where it happens. A `422` counts as accepted positive data: the schema states the
shapes, the server also checks what no schema can (a deliverable address, a cron expression,
an IANA zone, an http(s) URL).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from flask import Flask
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status
from schemathesis.engine.events import FatalError, NonFatalError, ScenarioFinished
from werkzeug.serving import make_server

from service.access.keys import GRANTS, create_api_key
from service.digests.articles import upsert_article
from service.extensions import db
from service.http.contract import PUBLIC
from service.models import Newsletter, utcnow
from tests.conftest import app_for, free_port, plain_app, scratch_postgres, stack_env
from tests.support.readers import add_reader

Exchange = tuple[str, str, str, int, bool]  # phase, method, URL path, status, key sent
MAX_EXAMPLES = 12
# (backend, the key's scope or None for no key, generated cases per operation); run in this
# order on one database per backend, so the admin run (which erases readers) comes last. The
# coverage phase (every boundary, some 1,700 cases) runs only where the key passes the check:
# elsewhere each case ends at the same 401 or 403, which a few generated ones show.
RUNS = [
    ("sqlite", "read", 3),
    ("sqlite", "write", 3),
    ("sqlite", "send", 3),
    ("sqlite", None, 2),
    ("sqlite", "admin", MAX_EXAMPLES),
    ("postgresql", "admin", MAX_EXAMPLES // 2),
]
STATEFUL_STEPS = 24  # enough for the walk to reach a send among every operation (webhooks too)
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


def fuzz_config(
    key: str | None, max_examples: int = MAX_EXAMPLES, uncovered: Iterable[str] = ()
) -> SchemathesisConfig:
    """All checks, a bounded number of examples, the real key (if any) sent on every call; no
    coverage phase for the operations `uncovered` (by id)."""
    skip = [
        {"include-operation-id": op, "phases": {"coverage": {"enabled": False}}} for op in uncovered
    ]
    return SchemathesisConfig.from_dict(
        {
            "seed": 20261202,
            "headers": {"Authorization": f"Bearer {key}"} if key else {},
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
                *skip,
            ],
            "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
        }
    )


@contextmanager
def seeded_app(database_url: str, redis_server, tmp: Path) -> Iterator[Flask]:
    """A migrated app, the demo newsletters in it, errors answered (no raise)."""
    with plain_app(database_url, redis_server, tmp) as app:
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
def fuzz_app(tmp_path_factory, redis_server) -> Iterator[Flask]:
    """The module's SQLite app."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with seeded_app(f"sqlite:///{tmp / 'fuzz.db'}", redis_server, tmp) as app:
        yield app


@pytest.fixture(scope="module")
def fuzz_postgres_app(tmp_path_factory, redis_server) -> Iterator[Flask]:
    """The module's PostgreSQL app (a scratch database, dropped at the end)."""
    tmp = tmp_path_factory.mktemp("fuzz-pg")
    with scratch_postgres() as url, seeded_app(url, redis_server, tmp) as app:
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
def fuzz_postgres_url(fuzz_postgres_app) -> Iterator[str]:
    with serve(fuzz_postgres_app) as url:
        yield url


def run_schemathesis(
    schema,
    statuses: list[int] | None = None,
    answers: list[Exchange] | None = None,
    ran: set[str] | None = None,
) -> tuple[int, list[str]]:
    """Run every phase the config enables; (cases checked, one line per failure or error).

    The status of every answer is appended to `statuses` if given, and (phase, method, URL
    path, status, whether it carried a key) to `answers`, the name of every check that ran to
    `ran`."""
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
                     i.response.status_code, "authorization" in
                     {name.lower() for name in i.request.headers})
                    for i in done
                )  # fmt: skip
            for case_id, checks in event.recorder.checks.items():
                checked += 1
                for check in checks:
                    if ran is not None:
                        ran.add(check.name)
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


def scopes_of(spec: dict) -> list[tuple[str, re.Pattern, str]]:
    """(method, URL path pattern, needed scope or PUBLIC) for every operation of the document."""
    found = []
    for path, operations in spec["paths"].items():
        pattern = re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")
        for method, op in operations.items():
            found.append((method.upper(), pattern, op.get("x-required-scope", PUBLIC)))
    return found


def beyond(spec: dict, held: str | None) -> list[str]:
    """The ids of the operations a key of scope `held` (None: no key) does not reach, and of
    the public ones (the admin runs cover those)."""
    return [
        op["operationId"]
        for operations in spec["paths"].values()
        for op in operations.values()
        if held is None or op.get("x-required-scope", PUBLIC) not in GRANTS[held]
    ]


def needed(operations: list[tuple[str, re.Pattern, str]], method: str, path: str) -> str | None:
    """The scope the operation answering (method, path) needs (the most literal match); None
    for a method the document does not have there (a 405)."""
    fits = [
        (p.pattern.count("[^/]+"), s) for m, p, s in operations if m == method and p.match(path)
    ]
    return min(fits)[1] if fits else None


@pytest.mark.parametrize(("backend", "held", "examples"), RUNS,
                         ids=[f"{b}-{h or 'no-key'}" for b, h, _ in RUNS])  # fmt: skip
def test_every_operation_and_link_matches_the_document(request, backend, held, examples):
    app = request.getfixturevalue("fuzz_app" if backend == "sqlite" else "fuzz_postgres_app")
    url = request.getfixturevalue("fuzz_url" if backend == "sqlite" else "fuzz_postgres_url")
    key = None
    if held is not None:
        with app.app_context():
            key = create_api_key(f"fuzz-{held}-{uuid.uuid4().hex[:6]}", [held])
    spec = requests.get(f"{url}/openapi.json", timeout=30).json()
    config = fuzz_config(key, examples, uncovered=[] if held == "admin" else beyond(spec, held))
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=config)
    operations = scopes_of(spec)
    answers: list[Exchange] = []
    ran: set[str] = set()
    checked, problems = run_schemathesis(schema, answers=answers, ran=ran)
    statuses = Counter(a[3] for a in answers)
    print(f"\nschemathesis {backend} key={held or 'none'} max-examples={examples}: {checked} "
          f"cases, {len(answers)} calls, {len(ran)} checks, {len(problems)} failures; {dict(sorted(statuses.items()))}")  # fmt: skip
    assert checked > 100, checked
    assert not problems, f"{len(problems)} failures:\n\n" + "\n\n".join(dict.fromkeys(problems))
    every = {check.__name__ for check in CHECKS.get_all()}
    assert ran == every, every - ran  # every check schemathesis has, each on some case
    secured = [
        (m, p, s, needed(operations, m, p))
        for _, m, p, s, keyed in answers
        if p.startswith("/api/") and keyed == (held is not None)
    ]
    secured = [(m, p, s, scope) for m, p, s, scope in secured if scope not in (PUBLIC, None)]
    allowed = {s for _, _, s, scope in secured if held and scope in GRANTS[held]}
    refused = {s for _, _, s, scope in secured if not held or scope not in GRANTS[held]}
    # Past the key check only where the scope grants it: elsewhere a 401 (no key) or the 403.
    assert not {s for s in refused if 200 <= s < 300}, sorted(set(secured))[:50]
    assert (401 if held is None else 403) in refused or held == "admin", sorted(refused)
    assert 403 not in refused if held is None else 401 not in refused
    assert held is None or any(200 <= s < 300 for s in allowed), sorted(allowed)
    if held != "admin":
        return
    preview = "/api/v1/digest-preview/daily"
    # The previews of a real newsletter were rendered, and refused in an unknown locale.
    assert ("GET", preview, 200) in {a[1:4] for a in answers}, sorted(set(answers))[:50]
    assert ("GET", preview, 422) in {a[1:4] for a in answers}
    assert ("POST", preview + "/test", 202) in {a[1:4] for a in answers}
    # The stateful phase followed links: an answer to a call made with a value from an
    # earlier answer (a newsletter made in the run, or a send).
    stateful = {
        (method, path) for phase, method, path, *_ in answers if "stateful" in phase.lower()
    }
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
        # Only the signup. (An `include` would widen nothing here: with `[[operations]]` in the
        # config, schemathesis ORs it with a filter that matches everything.)
        schema = schema.exclude(path_regex="^(?!/api/v1/subscriptions$)")
        schema.config.phases.stateful.enabled = False  # one operation: no links to follow
        statuses: list[int] = []
        answers: list[Exchange] = []
        _, problems = run_schemathesis(schema, statuses, answers)
    assert 429 in statuses, sorted(set(statuses))
    assert {path for _, _, path, *_ in answers} == {"/api/v1/subscriptions"}
    assert not problems, "\n\n".join(dict.fromkeys(problems))


def test_every_secured_operation_documents_401_and_403(fuzz_url):
    """What a narrower key or no key meets is in the document: the 403 names the scope."""
    spec = requests.get(f"{fuzz_url}/openapi.json", timeout=30).json()
    secured = [
        (method, path, op)
        for path, operations in spec["paths"].items()
        for method, op in operations.items()
        if "security" in op
    ]
    assert len(secured) > 20
    for method, path, op in secured:
        scope = op["x-required-scope"]
        assert scope in GRANTS and op["security"] == [{"bearer": []}], (method, path)
        refused = op["responses"]["403"]
        assert f"`insufficient_scope`: the key lacks scope `{scope}`" in refused["description"]
        assert (
            "WWW-Authenticate" in refused["headers"]
            and "WWW-Authenticate" in op["responses"]["401"]["headers"]
        ), (method, path)
        error = {"$ref": "#/components/schemas/Error"}
        assert refused["content"]["application/json"]["schema"] == error, (method, path)
    public = [op for ops in spec["paths"].values() for op in ops.values() if "security" not in op]
    for op in public:  # a provider's hook has a 403 of its own (a bad signature), never this one
        assert "x-required-scope" not in op, op["operationId"]
        assert "insufficient_scope" not in op["responses"].get("403", {}).get("description", "")
