"""Every header made from untrusted text parses back to exactly the header intended.

Generated hostile text (see `hostile.py`) goes into each header builder, alone and inside a
whole message; the message is read back as a client reads it.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.addresses import InvalidEmail, parse_address
from service.mail import MAIL_POLICY
from service.mail.headers import MAX_TEXT, display_text, header
from tests.unit.mail.hostile import PIECES, assert_one_line_of_text, hostile_text, read_back

INJECTION = "=?utf-8?q?x=0D=0ABcc:_someone@example.net?="
ADDRESSES = ["olena@gmail.com", "o.petrenko+news@ukr.net", "reader@xn--80a1acny.xn--j1amh"]
UTF8_ADDRESSES = ["олена@пошта.укр", "читач@gmail.com"]


def serialized(*headers, utf8: bool = False) -> bytes:
    """A small message carrying `headers`, as the mail code writes it."""
    message = EmailMessage(policy=MAIL_POLICY)
    for item in headers:
        message[item.name] = item
    message.set_content("Hello.\n")
    return message.as_bytes(policy=MAIL_POLICY.clone(utf8=utf8))


def check_lines(lines: list[bytes], names: list[str]) -> None:
    """Each header is one header line plus continuations, none longer than 78 octets
    unless it holds a long address; nothing outside ASCII but an address."""
    starts = [line for line in lines if line[:1] not in (b" ", b"\t")]
    assert [line.split(b":", 1)[0].decode() for line in starts] == names
    for line in lines:
        assert b"\r" not in line and b"\n" not in line and b"\x00" not in line
        assert len(line) <= 78 or b"<" in line or b"@" in line


@settings(max_examples=300)
@given(hostile_text)
@example(INJECTION)
@example("=?utf-8?b?DQpCY2M6IGV2aWxAZXhhbXBsZS5uZXQNCg==?=")
@example("x" * 5000)
def test_display_text_is_one_clean_line(text):
    shown = display_text(text)
    assert_one_line_of_text(shown)
    assert len(shown) <= MAX_TEXT
    assert display_text(shown) == shown
    if len(text) <= MAX_TEXT and text == " ".join(text.split()) and text.isprintable():
        assert shown == text  # clean text is kept as typed


@settings(max_examples=300)
@given(hostile_text)
@example(INJECTION)
@example("Daily: news, today")
@example("")
def test_subject_parses_back_to_its_text_alone(text):
    data = serialized(header("Subject", text))
    back = read_back(data)
    assert back.names == ["Subject", "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]
    check_lines(back.lines, back.names)
    assert back.shown("Subject") == display_text(text)
    assert str(back.message["Subject"]).replace(" ", "") == display_text(text).replace(" ", "")
    assert back.message.get_content().splitlines() == ["Hello."]


@settings(max_examples=300)
@given(hostile_text, st.sampled_from(ADDRESSES), hostile_text)
@example(INJECTION, "olena@gmail.com", INJECTION)
@example('Олена "Q" <x@evil.example>', "olena@gmail.com", "The Kyiv Independent")
def test_to_and_from_parse_back_to_one_address_each(name, address, sender_name):
    data = serialized(
        header("From", sender_name, "newsletter@news.example.org"), header("To", name, address)
    )
    back = read_back(data)
    assert back.names[:2] == ["From", "To"] and "Bcc" not in back.names
    check_lines(back.lines, back.names)
    [to] = back.message["To"].addresses
    [sender] = back.message["From"].addresses
    assert (to.addr_spec, sender.addr_spec) == (address, "newsletter@news.example.org")
    assert back.shown("To") == display_text(name)
    assert back.shown("From") == display_text(sender_name)
    assert to.display_name.replace(" ", "") == display_text(name).replace(" ", "")
    assert not back.message.defects and not back.message["To"].defects


@settings(max_examples=200)
@given(hostile_text, st.sampled_from(UTF8_ADDRESSES))
def test_a_non_ascii_address_is_written_as_utf8_beside_an_encoded_name(name, address):
    data = serialized(header("To", name, address), utf8=True)
    back = read_back(data)
    [to] = back.message["To"].addresses
    assert to.addr_spec == address and back.shown("To") == display_text(name)
    with pytest.raises(UnicodeEncodeError):  # never without SMTPUTF8
        serialized(header("To", name, address))


@settings(max_examples=200)
@given(hostile_text)
@example(INJECTION)
@example("Daily News")
def test_list_id_parses_back_to_the_newsletter_name_and_its_id(name):
    data = serialized(header("List-Id", name, "daily.news.example.org"))
    back = read_back(data)
    assert back.names[0] == "List-Id" and back.names.count("List-Id") == 1
    check_lines(back.lines, back.names)
    assert back.raw["List-Id"].endswith(" <daily.news.example.org>") or not display_text(name)
    assert back.shown("List-Id") == display_text(name)


@pytest.mark.parametrize(
    "address",
    [
        *("a@b.org\r\nBcc: x@y.org", "a@b.org>, <x@y.org", "a b@c.org", "<a@b.org>"),
        *("a@b.org\x00", "a@b\u2028.org", "a\u202e@b.org", '"a"@b.org', "a@b.org,x@y.org"),
        *("ab.org", "=?utf-8?q?x=0D=0A?=@gmail.com"),
    ],
)
def test_anything_but_a_plain_address_is_refused(address):
    with pytest.raises(ValueError):
        header("To", "Olena", address)


@pytest.mark.parametrize("list_id", ["daily", "daily.x.org> <y.z", "a b.org", "a.b\r\n.c"])
def test_anything_but_a_dot_atom_list_id_is_refused(list_id):
    with pytest.raises(ValueError):
        header("List-Id", "Daily", list_id)


def test_plain_ascii_text_is_written_as_it_is():
    assert header("Subject", "Ukraine Daily: news, 24 Nov").fold(policy=MAIL_POLICY) == (
        "Subject: Ukraine Daily: news, 24 Nov\r\n"
    )
    assert header("From", "Kyiv News", "n@example.org").fold(policy=MAIL_POLICY) == (
        "From: Kyiv News <n@example.org>\r\n"
    )
    assert header("List-Id", "Daily, 7am", "daily.example.org").fold(policy=MAIL_POLICY) == (
        'List-Id: "Daily, 7am" <daily.example.org>\r\n'
    )
    assert header("To", None, "a@example.org").fold(policy=MAIL_POLICY) == "To: a@example.org\r\n"


def test_encoded_word_syntax_is_always_encoded_again():
    folded = header("To", INJECTION, "a@example.org").fold(policy=MAIL_POLICY)
    assert "=0D=0A" not in folded and "Bcc" not in folded and folded.count("\r\n") == 2


# -- the address parser: whatever it accepts becomes exactly one To ----------------------

local_parts = st.one_of(
    st.text(min_size=1, max_size=20),
    st.lists(st.sampled_from([*PIECES, "olena", ".", "+", "-"]), min_size=1, max_size=6).map(
        "".join
    ),
)
domains = st.sampled_from(["gmail.com", "ukr.net", "пошта.укр", "example.net", "x.io"])
typed = st.one_of(
    st.builds(
        lambda a, b, c: f"{a}{b}@{c}", st.sampled_from(["", " ", "\t"]), local_parts, domains
    ),
    st.builds(lambda a, b: f"olena@gmail.com{a}{b}", st.sampled_from(PIECES), st.text(max_size=8)),
    hostile_text,
)


@settings(max_examples=400)
@given(typed, hostile_text)
@example("olena@gmail.com\r\nBcc: x@evil.example", INJECTION)
@example("=?utf-8?q?x=0D=0A?=@gmail.com", INJECTION)
@example("Olena <olena@gmail.com>", "")
def test_every_address_the_parser_accepts_becomes_exactly_one_to(raw, name):
    try:
        address = parse_address(raw, allow_smtputf8=True)
    except InvalidEmail:
        return
    data = serialized(header("To", name, address.ascii), utf8=address.smtputf8)
    back = read_back(data)
    assert back.names.count("To") == 1 and "Bcc" not in back.names and "Cc" not in back.names
    [to] = back.message["To"].addresses
    assert to.addr_spec == address.ascii and back.shown("To") == display_text(name)


@pytest.mark.parametrize(
    "raw",
    [
        "=?utf-8?q?x=0D=0A?=@gmail.com",
        "a=?utf-8?b?QQ==?=b@gmail.com",
        "=?x?q?=41=42=43=40evil.example?=a@gmail.com",
    ],
)
def test_the_parser_refuses_encoded_words_in_an_address(raw):
    with pytest.raises(InvalidEmail) as refused:
        parse_address(raw, allow_smtputf8=True)
    assert refused.value.reason == "encoded_word"


def test_a_bare_equals_question_mark_is_no_encoded_word():
    address = parse_address("!#$%&`*+/=?^`{|}~@gmail.com")  # isemail's valid case 19
    back = read_back(serialized(header("To", "Olena", address.ascii)))
    assert [a.addr_spec for a in back.message["To"].addresses] == [address.ascii]
