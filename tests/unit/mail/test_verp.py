"""VERP bounce addresses: made per send and reader, and only genuine ones name anybody."""

from __future__ import annotations

import string

from hypothesis import example, given
from hypothesis import strategies as st

from service.mail.verp import MAC_BYTES, Verp

DOMAIN = "bounces.news.example.org"
ids = st.integers(min_value=0, max_value=2**31 - 1)


@given(send=ids, reader=ids)
def test_an_address_names_its_send_and_reader(send, reader):
    verp = Verp(DOMAIN, ["key-one"])
    address = verp.make(send, reader)
    local = address.partition("@")[0]
    assert address.endswith(f"@{DOMAIN}") and len(local) <= 64
    assert local.startswith(f"bounces+{send}-{reader}-")
    assert verp.parse(address) == (send, reader)
    assert verp.parse(f"<{address.upper()}>") == (send, reader)  # a server may change case


def test_the_mac_is_at_least_64_bits_of_lowercase_base32():
    mac = Verp(DOMAIN, ["k"]).make(12, 345).partition("@")[0].rsplit("-", 1)[1]
    assert MAC_BYTES * 8 >= 64 and len(mac) * 5 >= 64
    assert set(mac) <= set(string.ascii_lowercase + "234567")


@given(send=ids, reader=ids, position=st.integers(min_value=0), char=st.characters())
def test_any_change_to_a_genuine_address_names_nobody(send, reader, position, char):
    verp = Verp(DOMAIN, ["key-one"])
    address = verp.make(send, reader)
    at = position % len(address)
    changed = address[:at] + char + address[at + 1 :]
    if changed.lower() != address.lower():
        assert verp.parse(changed) is None


@given(send=ids, reader=ids, other=ids)
def test_another_readers_ids_under_a_genuine_mac_name_nobody(send, reader, other):
    verp = Verp(DOMAIN, ["key-one"])
    mac = verp.make(send, reader).partition("@")[0].rsplit("-", 1)[1]
    if other != reader:
        assert verp.parse(f"bounces+{send}-{other}-{mac}@{DOMAIN}") is None


def test_another_secret_or_domain_names_nobody_and_old_keys_still_verify():
    ours, theirs = Verp(DOMAIN, ["new", "old"]), Verp(DOMAIN, ["attacker"])
    assert ours.parse(theirs.make(1, 2)) is None
    assert ours.parse(Verp(DOMAIN, ["old"]).make(1, 2)) == (1, 2)  # made before a rotation
    assert Verp("other.example", ["new"]).parse(ours.make(1, 2)) is None
    assert ours.make(1, 2) == Verp(DOMAIN, ["new"]).make(1, 2)  # the newest key signs


@given(st.text())
@example("bounces+1-2-aaaaaaaaaaaaaaaa@bounces.news.example.org")
@example("bounces+01-2-aaaaaaaaaaaaaaaa@bounces.news.example.org")
@example("postmaster@bounces.news.example.org")
@example("")
def test_arbitrary_text_never_raises_and_names_nobody(text):
    assert Verp(DOMAIN, ["key-one"]).parse(text) is None


def test_a_digests_envelope_sender_is_its_readers_address_or_else_from(unit_app):
    from service.mail import RenderedEmail, newsletter_sender
    from service.models import Newsletter
    from service.sending.personalize import LEGACY, build_template, envelope_sender

    news = Newsletter(id=7, slug="daily", name="Daily", from_address="news@news.example.org")
    rendered = RenderedEmail(subject="Hi", text="Hello.", html="<p>Hello.</p>")
    made = {
        verp: build_template(
            rendered,
            sender=newsletter_sender(news),
            newsletter_id=7,
            placeholders=LEGACY,
            verp=verp,
        )
        for verp in (None, Verp(DOMAIN, ["key-one"]))
    }
    plain, verped = made.values()
    assert envelope_sender(plain, 3, 9) == "news@news.example.org"  # no BOUNCE_DOMAIN: From
    address = envelope_sender(verped, 3, 9)
    assert address != envelope_sender(verped, 3, 10)
    assert Verp(DOMAIN, ["key-one"]).parse(address) == (3, 9)
