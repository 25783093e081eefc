"""The spool's lines and the embedded layout's journal: every entry comes back as written,
one line each, oldest first, and a line cut short by a crash is skipped, never misread."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.signup.journal import JournalSpool
from service.signup.spool import BadEntry, decode, encode, new_entry

# What a signup carries that a reader typed or a browser sent: any text at all.
_text = st.text(st.characters(codec="utf-8"), max_size=200)
_signups = st.fixed_dictionaries(
    {
        "email": _text,
        "name": st.none() | _text,
        "user_agent": st.none() | _text,
        "source_url": st.none() | _text,
        "newsletter_slugs": st.lists(_text, max_size=4),
        "at": _text,
        "smtputf8": st.booleans(),
    }
)


@given(_signups)
def test_an_entry_is_one_line_and_reads_back_as_written(signup):
    entry = new_entry(signup)
    line = encode(entry)
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and b"\r" not in line
    assert decode(line) == entry


@given(st.binary(max_size=300))
def test_any_bytes_are_an_entry_or_bad_never_an_error_of_another_kind(data):
    try:
        entry = decode(data)
    except BadEntry:
        return
    assert len(entry["key"]) == 32 and isinstance(entry["signup"], dict)


@pytest.mark.parametrize("line", [b"", b"{", b"[]", b'{"key": "x", "signup": {}}', b"\xff\n"])
def test_what_is_no_entry_is_bad(line):
    with pytest.raises(BadEntry):
        decode(line)


def test_the_journal_gives_the_oldest_first_and_forgets_what_was_replayed(tmp_path):
    journal = JournalSpool(tmp_path)
    entries = [new_entry({"email": f"r{i}@gmail.com"}) for i in range(5)]
    for entry in entries:
        journal.append(encode(entry))
    assert [decode(line) for line in journal.oldest(3)] == entries[:3]
    journal.drop(3)
    assert [decode(line) for line in journal.oldest(10)] == entries[3:]
    assert JournalSpool(tmp_path).oldest(10) == journal.oldest(10)  # the offset is on disk
    journal.drop(2)
    assert journal.oldest(10) == []
    assert journal.path.stat().st_size == 0  # all replayed: emptied


def test_a_line_cut_short_by_a_crash_stays_alone_and_is_not_handed_out(tmp_path):
    journal = JournalSpool(tmp_path)
    first, second = new_entry({"email": "a@gmail.com"}), new_entry({"email": "b@gmail.com"})
    journal.append(encode(first))
    with journal.path.open("ab") as raw:
        raw.write(encode(second)[:20])  # the process died mid-write: no newline, no 202
    assert [decode(line) for line in journal.oldest(10)] == [first]
    third = new_entry({"email": "c@gmail.com"})
    journal.append(encode(third))
    lines = journal.oldest(10)
    assert len(lines) == 3
    with pytest.raises(BadEntry):
        decode(lines[1])
    assert [decode(lines[0]), decode(lines[2])] == [first, third]


def test_only_one_replayer_at_a_time(tmp_path):
    journal = JournalSpool(tmp_path)
    with journal.replaying() as first, JournalSpool(tmp_path).replaying() as second:
        assert (first, second) == (True, False)
    with journal.replaying() as again:
        assert again
