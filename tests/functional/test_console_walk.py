"""What a new editor met walking through the console on `make run`'s demo data, as server
behaviour: a form refused for one field keeps everything else typed (API keys, staff
invitations, a CSV upload's choices), in the member's language; a test copy of the digest can
go to an address that receives mail when the member's own cannot (the banner's
`you@example.org`); the last owner is offered no button that can only fail; a send in another
year says which."""

from __future__ import annotations

import html
import io
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from service.extensions import db
from service.models import ApiKey, StaffMember
from tests.functional.test_console import member, sign_in, token
from tests.functional.test_sending import fresh_article
from tests.support.readers import add_reader


def text_of(answer) -> str:
    return html.unescape(answer.get_data(as_text=True))


def test_a_refused_api_key_keeps_the_name_and_scopes_typed(console):
    sign_in(console, member("owner").email)
    page = console.get("/admin/api-keys")
    refused = console.post("/admin/api-keys", data={"name": "cms, for the site!", "scope": ["write", "send"],
                                                    "csrf_token": token(page.data)})  # fmt: skip
    assert refused.status_code == 422
    text = text_of(refused)
    assert 'value="cms, for the site!"' in text
    assert 'value="write" aria-describedby="scopes-hint" checked' in text
    assert 'value="send" aria-describedby="scopes-hint" checked' in text
    assert 'value="read" aria-describedby="scopes-hint" checked' not in text


def test_a_key_with_no_scope_ticked_is_refused_not_made_an_admin_key(console):
    sign_in(console, member("owner").email)
    page = console.get("/admin/api-keys")
    name = f"no-scope-{uuid.uuid4().hex[:6]}"
    refused = console.post("/admin/api-keys", data={"name": name, "csrf_token": token(page.data)})
    assert refused.status_code == 422
    assert "Tick at least one scope." in text_of(refused)
    assert f'value="{name}"' in text_of(refused)
    assert db.session.scalar(select(ApiKey).where(ApiKey.name == name)) is None


def test_a_refused_invitation_keeps_the_address_and_role_and_says_why_beside_them(console):
    owner = member("owner")
    sign_in(console, owner.email)
    page = console.get("/admin/staff")
    refused = console.post("/admin/staff/invite", data={"email": owner.email, "role": "viewer",
                                                        "csrf_token": token(page.data)})  # fmt: skip
    assert refused.status_code == 422
    text = text_of(refused)
    assert f'name="email" required maxlength="254" value="{owner.email}"' in text
    assert "<option selected>viewer</option>" in text
    assert 'id="invite-error">' in text and "has an account already" in text


def test_a_refused_upload_keeps_its_newsletter_and_consent_choice_in_the_members_language(
    console, newsletter
):
    first, chosen = newsletter(), newsletter()
    sign_in(console, member("editor").email)
    form = console.get("/admin/imports/new")
    refused = console.post(
        "/admin/imports",
        data={"csrf_token": token(form.data), "newsletter": chosen.slug, "mode": "confirmed",
              "consent": "", "file": (io.BytesIO(b"email\nx@gmail.com\n"), "list.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert refused.status_code == 422
    text = text_of(refused)
    assert f'<option value="{chosen.slug}" selected>' in text
    assert f'<option value="{first.slug}" selected>' not in text
    # "confirmed" stays picked: falling back to "mail each the confirmation" would mail them
    assert 'value="confirmed" checked' in text and 'value="send-confirmation" checked' not in text
    no_file = console.post(
        "/admin/imports?locale=uk",
        data={"csrf_token": token(form.data), "newsletter": chosen.slug, "mode": "pending",
              "consent": "book fair"},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert no_file.status_code == 422
    text = text_of(no_file)
    assert "Choose the CSV file" not in text and 'value="book fair"' in text
    assert 'value="pending" checked' in text


def test_a_test_copy_goes_to_an_address_that_receives_mail_when_the_members_cannot(
    console, newsletter, smtp
):
    """The banner's first account is you@example.org, a domain no mail reaches: the test copy
    was refused as "reserved_domain" with no way to send it anywhere else."""
    nl = newsletter()
    fresh_article()
    editor = member("editor")  # an @example.org address, as the banner suggests
    sign_in(console, editor.email)
    page = console.get(f"/admin/newsletters/{nl.slug}/digest")
    assert f'name="email" value="{editor.email}"'.encode() in page.data
    refused = console.post(f"/admin/newsletters/{nl.slug}/test-send",
                           data={"csrf_token": token(page.data), "locale": "en"})  # fmt: skip
    assert refused.status_code == 422
    text = text_of(refused)
    assert "example.org is reserved for examples and tests" in text
    assert "Type an address that receives mail." in text
    assert f'name="email" value="{editor.email}"' in text and 'aria-invalid="true"' in text
    address = f"desk.{uuid.uuid4().hex[:10]}@gmail.com"
    sent = console.post(f"/admin/newsletters/{nl.slug}/test-send",
                        data={"csrf_token": token(page.data), "locale": "en", "email": address})  # fmt: skip
    assert sent.status_code == 302
    assert f"on its way to {address}" in text_of(console.get(sent.location))
    message = smtp.wait_for_recipient(address, timeout=30)[0].message
    assert message["Subject"].startswith("[TEST] ")


def test_the_last_active_owner_is_offered_no_role_change_or_disable_button(console):
    owner = member("owner")
    others = list(db.session.scalars(select(StaffMember).where(
        StaffMember.role == "owner", StaffMember.id != owner.id, StaffMember.disabled_at.is_(None))))  # fmt: skip
    for other in others:
        other.disabled_at = other.created_at
    db.session.commit()
    try:
        editor = member("editor")
        sign_in(console, owner.email)
        text = text_of(console.get("/admin/staff"))
        assert f'action="/admin/staff/{owner.id}"' not in text  # nothing that can only fail
        assert "the last active owner" in text
        assert f'action="/admin/staff/{editor.id}"' in text  # the others keep theirs
        second = member("owner")
        text = text_of(console.get("/admin/staff"))
        assert f'action="/admin/staff/{owner.id}"' in text  # two owners: either may change
        assert f'action="/admin/staff/{second.id}"' in text
    finally:
        for other in others:
            other.disabled_at = None
        db.session.commit()


def test_a_send_scheduled_in_another_year_says_which_year(console, newsletter):
    nl = newsletter(timezone="Europe/Kyiv")
    add_reader(nl)
    sign_in(console, member("editor").email)
    page = console.get("/admin/sends")
    year = datetime.now(UTC).year + 3
    done = console.post("/admin/sends", data={"newsletter": nl.slug, "when": f"{year}-01-01T06:45",
                                              "csrf_token": token(page.data)})  # fmt: skip
    assert done.status_code == 302
    listed = text_of(console.get(done.location))
    assert f"1 Jan {year}, 06:45 (Europe/Kyiv)" in listed  # the flash and the row
