"""Log lines: one JSON object per line, secrets redacted, request and send ids carried along.

The formatter is fed arbitrary text (tokens, keys, CR, LF, quotes, escapes) by Hypothesis and
must still write exactly one parseable line with no secret in it: a reader-controlled string
cannot forge a second line. The request id is checked end to end on the unit tier: a signup
made with an `X-Request-ID` is applied and its confirmation mailed by jobs that run with no
request of their own (`JOBS_RUN_INLINE` runs them detached), and every line they write names
that id.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service import logs, outbox
from service.extensions import db
from service.logs import JsonFormatter, guess_role, sane_request_id
from service.models import OutboxJob
from service.redaction import MARK, redact
from service.tokens import TokenService

CONFIRM = TokenService(["k" * 32], "confirm")
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
NASTY = st.sampled_from(["\n", "\r", "\r\n", '"', "\\", "\\n", "\u2028", "\x00", "}{", '{"a":1}'])


@st.composite
def secrets_(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return "nl_" + secrets.token_urlsafe(draw(st.integers(12, 40)))
    return CONFIRM.dumps({"s": draw(st.integers(0, 2**31)), "v": draw(st.integers(0, 9))})


@st.composite
def hostile(draw: st.DrawFn) -> tuple[str, str]:
    """Text with a secret somewhere among CRs, LFs, quotes and escapes; and the secret."""
    secret = draw(secrets_())
    place = draw(st.sampled_from(["{}", "/confirm/{}", "?api_key={}", "Bearer {}"]))
    parts = draw(st.lists(st.one_of(TEXT, NASTY), max_size=6))
    parts.insert(draw(st.integers(0, len(parts))), " " + place.format(secret) + " ")
    return "".join(parts), secret


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("service.x", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


@settings(max_examples=400)
@given(hostile(), TEXT)
def test_any_text_is_one_json_line_with_its_secret_redacted(text_and_secret, extra):
    text, secret = text_and_secret
    line = JsonFormatter().format(_record("said: %s", text, feed=extra + text, path=[text]))
    assert "\n" not in line and "\r" not in line  # one line: nothing forged after it
    entry = json.loads(line)
    assert secret not in line
    assert entry["message"] == redact("said: " + text)
    assert entry["feed"] == redact(extra + text) and entry["path"] == [redact(text)]
    assert {"ts", "level", "logger", "role"} <= set(entry)
    assert entry["ts"].endswith("+00:00") and entry["level"] == "warning"


@settings(max_examples=100)
@given(hostile())
def test_a_traceback_is_redacted_and_stays_inside_the_line(text_and_secret):
    text, secret = text_and_secret
    try:
        raise ValueError(text)
    except ValueError:
        record = _record("failed")
        record.exc_info = __import__("sys").exc_info()
    line = JsonFormatter().format(record)
    assert line.count("\n") == 0 and secret not in line
    assert "ValueError" in json.loads(line)["exc"]


def test_request_and_send_ids_come_from_the_context_and_leave_with_it():
    def entry() -> dict:
        return json.loads(JsonFormatter().format(_record("x")))

    assert "request_id" not in entry() and "send_id" not in entry()
    with logs.bound(request="r-1"):
        with logs.bound(send=7):
            assert (entry()["request_id"], entry()["send_id"]) == ("r-1", 7)
            with logs.detached():
                assert "request_id" not in entry() and "send_id" not in entry()
        assert entry()["request_id"] == "r-1" and "send_id" not in entry()
    assert "request_id" not in entry()
    line = JsonFormatter().format(_record("x", send_id=3))  # an explicit extra wins
    assert json.loads(line)["send_id"] == 3


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        ([".venv/bin/gunicorn", "--config", "gunicorn_web.py"], "web"),
        (["/x/celery/__main__.py", "-A", "tasks.worker", "worker", "--pool", "threads"], "worker"),
        ([".venv/bin/newsletter", "worker", "--concurrency", "2"], "worker"),
        ([".venv/bin/newsletter", "beat"], "beat"),
        (["celery", "-A", "tasks.worker", "worker", "-B"], "worker"),
        ([".venv/bin/newsletter", "bounces", "serve", "--port", "2525"], "bounces"),
        ([".venv/bin/newsletter", "sends", "show", "3"], "cli"),
        ([], "cli"),
    ],
)
def test_the_role_is_read_off_the_command(argv, role):
    assert guess_role(argv) == role


@pytest.mark.parametrize(
    "value",
    [
        "abc-123",
        "3f2a9c1e-7d4b-4e8a-9c1f-2b6d8e0a4c7f",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
        "a" * 128,
    ],
)
def test_sane_request_ids_are_kept(value):
    assert sane_request_id(value) == value


@pytest.mark.parametrize(
    "value", ["", None, "a" * 129, "two words", "a\r\nX-Evil: 1", "é", "<script>", 'a"b']
)
def test_other_request_ids_are_refused(value):
    assert sane_request_id(value) is None


@given(st.text(max_size=300))
def test_a_request_id_kept_is_bounded_and_plain(value):
    kept = sane_request_id(value)
    assert kept is None or (
        kept == value and len(kept) <= 128 and kept.isascii() and kept.isprintable()
    )
    assert kept is None or not any(c in kept for c in " \r\n\"'\\<>")


class Lines(list):
    """The lines written so far, parsed (`read()` again for later ones)."""

    def __init__(self, stream: io.StringIO):
        super().__init__()
        self.stream = stream

    def read(self) -> Lines:
        self[:] = [json.loads(line) for line in self.stream.getvalue().splitlines()]
        return self


@pytest.fixture
def lines() -> Iterator[Lines]:
    """Every line any logger writes during the test, through the app's formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield Lines(stream)
    finally:
        root.removeHandler(handler)


def test_the_answer_echoes_a_sane_request_id_and_replaces_another(unit_app):
    client = unit_app.test_client()
    kept = client.get("/healthz", headers={"X-Request-ID": "edge-42"})
    assert kept.headers["X-Request-ID"] == "edge-42"
    made = client.get("/healthz").headers["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/healthz").headers["X-Request-ID"]
    for bad in ("x" * 129, "a b", "<x>"):
        answer = client.get("/healthz", headers={"X-Request-ID": bad})
        assert answer.headers["X-Request-ID"] not in (bad, "")
        assert answer.headers.getlist("X-Request-ID") == [answer.headers["X-Request-ID"]]
    too_big = client.post(
        "/api/v1/subscriptions", data=b"x" * 70_000, headers={"X-Request-ID": "big-1"}
    )
    assert too_big.status_code == 413 and too_big.headers["X-Request-ID"] == "big-1"


def test_a_signups_request_id_is_on_its_apply_and_confirmation_lines(
    unit_app, add_newsletter, sent_mail, lines
):
    add_newsletter("daily")
    client = unit_app.test_client()
    answer = client.post(
        "/api/v1/subscriptions",
        json={"email": "reader@gmail.com", "newsletters": "daily"},
        headers={"X-Request-ID": "signup-77"},
    )
    assert answer.status_code == 202 and answer.headers["X-Request-ID"] == "signup-77"
    assert len(sent_mail) == 1
    lines.read()
    applied = [e for e in lines if e["logger"] == "service.signup.apply"]
    mailed = [e for e in lines if e.get("task") == "mail.send_confirmation"]
    assert [e["request_ids"] for e in applied] == [["signup-77"]], lines
    assert applied[0]["request_id"] == "signup-77"  # a batch of one request's signups
    assert [e["request_id"] for e in mailed] == ["signup-77"], lines
    assert "done" in mailed[0]["message"]


def test_a_job_binds_the_request_id_it_stored_and_hands_it_on(unit_app, lines):
    unit_app.config["JOBS_RUN_INLINE"] = False  # run by hand below, outside the request
    with logs.bound(request="req-9"):
        job = outbox.enqueue("mail.send_confirmation", {"subscriber_id": 1})
        db.session.commit()
    assert job.payload[outbox.REQUEST_ID_KEY] == "req-9"
    seen: list[dict] = []

    def work(payload: dict) -> None:
        seen.append(payload)
        logging.getLogger("service.test").info("working")
        outbox.enqueue("mail.send_confirmation", {"subscriber_id": 2})
        db.session.commit()

    assert logs.request_id.get() is None
    assert outbox.run_job("mail.send_confirmation", job.id, work)
    assert seen == [{"subscriber_id": 1}]  # the work never sees the key
    child = db.session.scalars(db.select(OutboxJob).order_by(OutboxJob.id.desc())).first()
    assert child.payload == {"subscriber_id": 2, outbox.REQUEST_ID_KEY: "req-9"}
    working = [e for e in lines.read() if e["message"] == "working"]
    assert working[0]["request_id"] == "req-9"
    assert logs.request_id.get() is None  # unbound after the job


def test_a_line_without_a_secret_is_left_readable():
    line = JsonFormatter(role="web").format(_record("GET /archive/daily 200"))
    assert json.loads(line)["message"] == "GET /archive/daily 200"
    assert json.loads(line)["role"] == "web"
    assert MARK in JsonFormatter().format(_record("GET /confirm/%s", CONFIRM.dumps({"s": 1})))


def test_one_line_names_every_request_of_a_batch_of_signups(unit_app, add_newsletter, lines):
    from service.signup.apply import apply_signups

    add_newsletter("daily")
    unit_app.config["JOBS_RUN_INLINE"] = False  # applied together below, as one message
    client = unit_app.test_client()
    for n in range(3):
        client.post(
            "/api/v1/subscriptions",
            json={"email": f"reader{n}@gmail.com", "newsletters": "daily"},
            headers={"X-Request-ID": f"batch-{n}"},
        )
    jobs = db.session.scalars(db.select(OutboxJob.id).where(OutboxJob.task == "signups.apply"))
    assert apply_signups(list(jobs)) == 3
    [line] = [e for e in lines.read() if e["logger"] == "service.signup.apply"]
    assert line["request_ids"] == ["batch-0", "batch-1", "batch-2"]
    assert "request_id" not in line and len(line["job_ids"]) == 3


def test_every_line_about_a_send_names_it(unit_app, add_newsletter, lines):
    from datetime import timedelta

    from service.models import Article, Send, SendStatus, utcnow
    from service.sending.scheduling import publish_start
    from tests.support.readers import add_reader

    news = add_newsletter("daily")
    add_reader(news)
    add_reader(news)
    db.session.add(
        Article(
            url="https://news.example.org/a",
            title="Kyiv",
            summary_text="A story.",
            published_at=utcnow() - timedelta(minutes=5),
        )
    )
    send = Send(newsletter_id=news.id, status=SendStatus.SCHEDULED, scheduled_at=utcnow())
    db.session.add(send)
    db.session.commit()
    publish_start(send.id)  # run inline, each task detached as on a worker
    assert db.session.get(Send, send.id, populate_existing=True).status == SendStatus.SENT
    about = [e for e in lines.read() if e["logger"].startswith("service.sending")]
    assert any(e["message"].startswith("batch ") for e in about), about  # bound, not passed
    assert about and all(e.get("send_id") == send.id for e in about), about
