"""Locales asked for by name and bodies without a length, below any server.

`checked_locale` turns any value into a locale with a catalogue or an `UnknownLocale` naming
them (never another error); `BodyLimit` hands the app a body of any framing whole up to the
limit and, one byte past it, a request the app refuses with 413 without reading a byte.
"""

from __future__ import annotations

import io

import pytest
from flask import Flask, request
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder

from service.http import body_limit
from service.i18n import LOCALES, UnknownLocale, checked_locale, normalize_locale

LIMIT = 1024


@settings(deadline=None)  # a shared machine: a slow example is not a wrong one
@given(st.one_of(st.text(max_size=60), st.integers(), st.none(), st.lists(st.text(max_size=3))))
def test_any_value_is_a_locale_with_a_catalogue_or_an_error_naming_them(value):
    try:
        locale = checked_locale(value)
    except UnknownLocale as exc:
        assert normalize_locale(value) is None
        assert str(exc).endswith(f"use one of {', '.join(LOCALES)}")
        assert len(str(exc)) < 200  # a long value is cut, not echoed whole
    else:
        assert locale in LOCALES


@pytest.mark.parametrize(("value", "locale"), [("uk-UA", "uk"), ("EN", "en"), ("ua", "uk")])
def test_the_ways_of_writing_a_locale_name_it(value, locale):
    assert checked_locale(value) == locale


@pytest.fixture(scope="module")
def echo() -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = LIMIT

    @app.post("/")
    def read() -> dict:
        return {"length": len(request.get_data()), "declared": request.content_length}

    body_limit.register(app)
    return app


def streamed(body: bytes, *, chunked: bool = True) -> dict:
    """An environ as a server that ends the body itself hands it over (no Content-Length)."""
    environ = EnvironBuilder(method="POST", path="/").get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["wsgi.input_terminated"] = True
    if chunked:
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    return environ


def call(app: Flask, environ: dict) -> tuple[int, bytes]:
    status: list[str] = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return int(status[0].split()[0]), body


@settings(deadline=None)
@given(size=st.integers(0, 3 * LIMIT), chunked=st.booleans())
def test_a_body_without_a_length_is_whole_up_to_the_limit_and_413_past_it(echo, size, chunked):
    status, answer = call(echo, streamed(b"x" * size, chunked=chunked))
    if size <= LIMIT:
        assert status == 200 and b'"length":%d' % size in answer.replace(b" ", b"")
    else:
        assert status == 413


def test_a_chunked_body_that_also_names_a_small_length_is_still_held(echo):
    environ = streamed(b"x" * (LIMIT + 1))
    environ["CONTENT_LENGTH"] = "10"  # ignored for a chunked body: the chunks say where it ends
    assert call(echo, environ)[0] == 413


def test_a_body_with_a_length_is_left_to_werkzeug(echo):
    environ = EnvironBuilder(method="POST", path="/", data=b"x" * 10).get_environ()
    assert call(echo, environ)[0] == 200
    environ = EnvironBuilder(method="POST", path="/", data=b"x" * (LIMIT + 1)).get_environ()
    assert call(echo, environ)[0] == 413


def test_a_refused_body_is_drained_only_so_far(echo):
    stream = io.BytesIO(b"x" * (LIMIT + body_limit.DRAIN_MAX + 5000))
    environ = streamed(b"")
    environ["wsgi.input"] = stream
    assert call(echo, environ)[0] == 413
    assert stream.tell() == LIMIT + 1 + body_limit.DRAIN_MAX
