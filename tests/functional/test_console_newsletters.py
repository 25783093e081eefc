"""Newsletters in the console on the real stack: an editor creates and edits one through the
service's own validation (each problem next to its field, in the service's words), sees the
schedule's next runs in the newsletter's time zone with and without htmx, copies the embed
snippet beside a live box; a viewer reads and is refused every change."""

from __future__ import annotations

import re
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from service.extensions import db
from service.models import AuditEvent, Newsletter
from tests.functional.test_console import member, sign_in, token

FORM = {
    "name": "Morning Brief",
    "description": "The day's news before breakfast.",
    "name_uk": "Ранковий огляд",
    "description_uk": "Новини дня до сніданку.",
    "schedule": "0 7 * * 1-5",
    "timezone": "Europe/Kyiv",
    "from": "brief@newsroom.com.ua",
    "min_new_articles": "2",
    "allowed_origins": "https://www.example.org\nhttps://partner.example.com\n",
    "rate_limit_per_second": "25",
}


def editor_in(console) -> str:
    row = member("editor")
    assert sign_in(console, row.email).status_code == 302
    return row.email


def test_an_editor_creates_a_newsletter_with_every_field(console):
    email = editor_in(console)
    page = console.get("/admin/newsletters/new")
    assert page.status_code == 200 and b'name="schedule"' in page.data
    slug = f"brief-{uuid.uuid4().hex[:6]}"
    made = console.post("/admin/newsletters/new",
                        data={**FORM, "slug": slug, "csrf_token": token(page.data)})  # fmt: skip
    assert made.status_code == 302, re.findall(rb"class=.error.[^>]*>([^<]*)<", made.data)
    assert made.location.endswith(f"/admin/newsletters/{slug}")
    db.session.expire_all()
    row = db.session.scalar(select(Newsletter).where(Newsletter.slug == slug))
    assert (row.name, row.schedule_cron, row.timezone, row.min_new_articles) == (
        "Morning Brief", "0 7 * * 1-5", "Europe/Kyiv", 2)  # fmt: skip
    assert row.translations == {"uk": {"name": "Ранковий огляд", "description": "Новини дня до сніданку."}}  # fmt: skip
    assert row.allowed_origins == ["https://www.example.org", "https://partner.example.com"]
    assert row.rate_limit_per_second == 25.0 and row.from_address == "brief@newsroom.com.ua"
    shown = console.get(made.location)
    assert "Ранковий огляд".encode() in shown.data
    runs = re.findall(rb"<li>(\w{3} \d{1,2} \w{3}, 07:00 \(Europe/Kyiv\))</li>", shown.data)
    assert len(runs) == 5 and not any(r.startswith((b"Sat", b"Sun")) for r in runs)
    assert f'data-newsletters="{slug}"'.encode() in shown.data.replace(b"&#34;", b'"').replace(b"&quot;", b'"')  # fmt: skip
    assert f'src="/forms/{slug}'.encode() in shown.data  # the live box
    actor = db.session.scalar(select(AuditEvent.actor).where(
        AuditEvent.event == "newsletter.created", AuditEvent.target == f"newsletter:{slug}"))  # fmt: skip
    assert actor == email


def test_each_problem_is_shown_next_to_its_field_in_the_services_words(console, newsletter):
    nl = newsletter(schedule_cron="0 7 * * *")
    editor_in(console)
    page = console.get(f"/admin/newsletters/{nl.slug}")
    bad = {**FORM, "name": "", "schedule": "0 0 7 * * *", "timezone": "Mars/Olympus",
           "min_new_articles": "many", "allowed_origins": "not an origin",
           "rate_limit_per_second": "0", "from": "nobody", "csrf_token": token(page.data)}  # fmt: skip
    answer = console.post(f"/admin/newsletters/{nl.slug}", data=bad)
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    for field, words in {
        "name": "name must be a non-empty string.",
        "schedule": "(seconds are not supported)",
        "timezone": "Unknown time zone &#39;Mars/Olympus&#39;",
        "min_new_articles": "min_new_articles must be an integer from 0 to 1000.",
        "rate_limit_per_second": "rate_limit_per_second must be a number above 0",
        "from": "from must be an acceptable email address.",
        "allowed_origins": "",
    }.items():
        error = re.search(rf'<p class="error" id="f-{field}-error">([^<]*)</p>', text)
        assert error and words in error.group(1), (field, text[:3000])
        control = re.search(rf'<(?:input|textarea) id="f-{field}"[^>]*>', text).group(0)
        assert 'aria-invalid="true"' in control and f"f-{field}-error" in control
    assert 'value="0 0 7 * * *"' in text  # what was typed stays
    db.session.expire_all()
    assert db.session.get(Newsletter, nl.id).schedule_cron == "0 7 * * *"  # nothing saved


def test_the_preview_button_shows_the_next_runs_without_saving(console, newsletter):
    nl = newsletter(schedule_cron="0 7 * * *", timezone="Europe/Kyiv")
    editor_in(console)
    page = console.get(f"/admin/newsletters/{nl.slug}")
    form = {**FORM, "name": nl.name, "schedule": "30 18 * * 0", "timezone": "America/New_York",
            "preview": "1", "csrf_token": token(page.data)}  # fmt: skip
    answer = console.post(f"/admin/newsletters/{nl.slug}", data=form)
    assert answer.status_code == 200
    # a run in another year than today's names it ("Sun 3 Jan 2027, 18:30")
    runs = re.findall(
        rb"<li>(Sun \d{1,2} \w{3}(?: \d{4})?, 18:30 \(America/New_York\))</li>", answer.data
    )
    assert len(runs) == 5
    db.session.expire_all()
    assert db.session.get(Newsletter, nl.id).schedule_cron == "0 7 * * *"


def test_the_htmx_part_follows_the_schedule_as_it_is_typed(console):
    row = member("viewer")
    sign_in(console, row.email)
    part = console.get("/admin/newsletters/next-runs?schedule=15+9+1+*+*&timezone=Asia/Tokyo")
    assert part.status_code == 200 and b"<html" not in part.data
    assert (
        len(re.findall(rb"<li>\w{3} 1 \w{3}(?: \d{4})?, 09:15 \(Asia/Tokyo\)</li>", part.data)) == 5
    )
    half = console.get("/admin/newsletters/next-runs?schedule=15+9&timezone=Asia/Tokyo")
    assert half.status_code == 200 and b"not valid yet" in half.data


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(schedule=st.text(max_size=40), timezone=st.text(max_size=30))
def test_any_typed_schedule_or_zone_gives_an_answer_never_an_error(console, schedule, timezone):
    if console.get("/admin/newsletters").status_code != 200:  # the first example signs in
        sign_in(console, member("viewer").email)
    part = console.get("/admin/newsletters/next-runs", query_string={"schedule": schedule, "timezone": timezone})  # fmt: skip
    # A NUL anywhere is refused for every page by the service's input guard, in its words.
    assert part.status_code == (400 if "\x00" in schedule + timezone else 200)
    assert "<script" not in part.get_data(as_text=True)


def test_a_viewer_reads_the_settings_but_every_change_is_refused(console, newsletter):
    nl = newsletter()
    sign_in(console, member("viewer").email)
    listed = console.get("/admin/newsletters")
    assert listed.status_code == 200 and nl.slug.encode() in listed.data
    assert b"New newsletter" not in listed.data
    page = console.get(f"/admin/newsletters/{nl.slug}")
    assert page.status_code == 200 and b'<fieldset class="plain" disabled>' in page.data
    assert b"Save changes" not in page.data
    csrf = token(page.data)
    assert console.get("/admin/newsletters/new").status_code == 403
    assert console.post("/admin/newsletters/new", data={**FORM, "slug": "viewer-made", "csrf_token": csrf}).status_code == 403  # fmt: skip
    assert console.post(f"/admin/newsletters/{nl.slug}", data={**FORM, "csrf_token": csrf}).status_code == 403  # fmt: skip
    db.session.expire_all()
    assert db.session.get(Newsletter, nl.id).name == nl.name


def test_a_slug_taken_or_malformed_is_said_next_to_the_slug(console, newsletter):
    nl = newsletter()
    editor_in(console)
    page = console.get("/admin/newsletters/new")
    taken = console.post("/admin/newsletters/new", data={**FORM, "slug": nl.slug, "csrf_token": token(page.data)})  # fmt: skip
    assert taken.status_code == 409 and b'id="f-slug-error"' in taken.data
    bad = console.post("/admin/newsletters/new", data={**FORM, "slug": "Not A Slug", "csrf_token": token(page.data)})  # fmt: skip
    assert bad.status_code == 422 and b"lowercase letters, digits and inner hyphens" in bad.data
