"""`POST /api/v1/imports` at the door: its own body limit (bigger than the API's 16 KiB, held
whatever the framing: a chunked body past it is a 413, never cut and imported), the choices
checked as the CLI checks them, and hostile text in a file name, a choice or the file itself an
answer in the error shape, never a 500 (the import runs inline in this tier)."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from service.access.keys import create_api_key
from service.extensions import db
from service.models import ListImport

LIMIT = 100_000


@pytest.fixture
def writer(unit_app, add_newsletter) -> dict[str, str]:
    add_newsletter("daily")
    unit_app.config["IMPORT_MAX_BYTES"] = LIMIT
    return {"Authorization": f"Bearer {create_api_key('importer', ['write'])}"}


def _csv(size: int) -> bytes:
    lines, n = [b"email"], 0
    while sum(len(line) + 1 for line in lines) < size:
        lines.append(b"reader%06d@example.org" % n)
        n += 1
    return b"\n".join(lines)[:size]


def _chunked(unit_app, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    environ = EnvironBuilder(
        method="POST", path="/api/v1/imports", query_string="newsletter=daily&mode=pending",
        headers={**headers, "Content-Type": "text/csv"},
    ).get_environ()  # fmt: skip
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    status: list[str] = []
    answer = b"".join(unit_app(environ, lambda s, h, e=None: status.append(s)))
    return int(status[0].split()[0]), json.loads(answer)


def test_the_route_has_its_own_limit_whatever_the_framing(unit_app, writer):
    client = unit_app.test_client()
    query = "/api/v1/imports?newsletter=daily&mode=pending"
    fits = client.post(query, data=_csv(LIMIT - 10), headers={**writer, "Content-Type": "text/csv"})
    assert fits.status_code == 202, fits.json
    over = client.post(query, data=_csv(LIMIT + 1), headers={**writer, "Content-Type": "text/csv"})
    assert (over.status_code, over.json["code"]) == (413, "too_large")
    status, body = _chunked(unit_app, _csv(LIMIT + 1), writer)
    assert (status, body["code"]) == (413, "too_large")
    status, body = _chunked(unit_app, _csv(50_000), writer)
    assert status == 202
    assert db.session.get(ListImport, body["id"]).size == 50_000  # whole, not cut at 16 KiB
    # every other route keeps the API's 16 KiB
    other = client.post("/api/v1/suppressions", data=b"x" * 20_000,
                        headers={**writer, "Content-Type": "application/json"})  # fmt: skip
    assert other.status_code == 413


@pytest.mark.parametrize(
    ("query", "field", "code"),
    [
        ("mode=pending", "newsletter", 422),
        ("newsletter=nope&mode=pending", "newsletter", 422),
        ("newsletter=daily", "mode", 422),
        ("newsletter=daily&mode=confirmed", "consent", 422),
        ("newsletter=daily&mode=everyone", "mode", 422),
    ],
)
def test_the_choices_are_checked_as_the_cli_checks_them(unit_app, writer, query, field, code):
    answer = unit_app.test_client().post(
        f"/api/v1/imports?{query}", data="email\na@example.org\n",
        headers={**writer, "Content-Type": "text/csv"},
    )  # fmt: skip
    assert (answer.status_code, answer.json["field"]) == (code, field), answer.json
    assert db.session.query(ListImport).count() == 0


def test_no_file_no_type_no_scope(unit_app, writer):
    client = unit_app.test_client()
    empty = client.post("/api/v1/imports?newsletter=daily&mode=pending", data=" \n",
                        headers={**writer, "Content-Type": "text/csv"})  # fmt: skip
    assert (empty.status_code, empty.json["field"]) == (422, "file")
    json_body = client.post("/api/v1/imports", json={"newsletter": "daily"}, headers=writer)
    assert json_body.status_code == 415
    no_part = client.post("/api/v1/imports", data={"newsletter": "daily"}, headers=writer,
                          content_type="multipart/form-data")  # fmt: skip
    assert (no_part.status_code, no_part.json["field"]) == (422, "file")
    reader = {"Authorization": f"Bearer {create_api_key('reader', ['read'])}"}
    assert client.post("/api/v1/imports", data="x", headers=reader).status_code == 403
    assert client.get("/api/v1/imports/999", headers=reader).status_code == 404


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(
    filename=st.text(max_size=300),
    consent=st.text(st.characters(exclude_characters="\x00"), max_size=600),
    content=st.binary(max_size=2000),
)
def test_hostile_uploads_are_an_answer_or_a_report(unit_app, writer, filename, consent, content):
    answer = unit_app.test_client().post(
        "/api/v1/imports",
        data={"file": (io.BytesIO(content), filename or "x"), "newsletter": "daily",
              "consent": consent},
        headers=writer, content_type="multipart/form-data",
    )  # fmt: skip
    assert answer.status_code in (202, 400, 422), answer.get_data()[:300]
    if answer.status_code == 202:
        shown = unit_app.test_client().get(answer.headers["Location"], headers=writer).json
        assert shown["status"] in ("done", "failed"), shown
        assert len(shown["filename"]) <= 200 and shown["filename"].isprintable()
