"""Reading the CSV files people have: separators, other tools' headers, true line numbers."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.lists.csv_rows import read_csv


def rows(text: str) -> list[tuple[int, str, str | None, str | None]]:
    return [(r.line, r.email, r.name, r.problem) for r in read_csv(io.StringIO(text))]


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_the_separator_is_read_from_the_header(separator):
    text = f"email{separator}name\r\nolena@gmail.com{separator}Коваль, Олена\r\n"
    if separator == ",":
        text = text.replace("Коваль, Олена", '"Коваль, Олена"')
    assert rows(text) == [(2, "olena@gmail.com", "Коваль, Олена", None)]


def test_mailchimp_headers_and_first_and_last_names():
    text = (
        "Email Address,First Name,Last Name,Address,Phone Number,MEMBER_RATING,UNSUB_TIME\n"
        'olena@gmail.com,Olena,Koval,"Khreshchatyk 1\nKyiv",,2,\n'
        "taras@gmail.com,Taras,,,,2,\n"
        "left@gmail.com,Left,,,,1,2026-01-02 10:00:00\n"
    )
    got = rows(text)
    assert got[:2] == [
        (2, "olena@gmail.com", "Olena Koval", None),
        (4, "taras@gmail.com", "Taras", None),  # the quoted line break kept the count
    ]
    assert got[2][0] == 5 and "left (UNSUB TIME 2026-01-02 10:00:00)" in got[2][3]


def test_listmonk_export_with_json_attributes_and_statuses():
    text = (
        "uuid,email,name,attributes,status,created_at,updated_at\n"
        'a1,olena@gmail.com,Olena,"{""city"": ""Lviv"", ""n"": 1}",enabled,2026-01-01,\n'
        "a2,spam@gmail.com,Spam,{},blocklisted,2026-01-01,\n"
    )
    got = rows(text)
    assert got[0] == (2, "olena@gmail.com", "Olena", None)
    assert got[1][:2] == (3, "spam@gmail.com") and "status 'blocklisted'" in got[1][3]


def test_substack_export_and_readers_who_turned_email_off():
    text = (
        "email,active_subscription,expiry,plan,email_disabled,created_at\n"
        "olena@gmail.com,false,,,false,2026-01-01\n"
        "quiet@gmail.com,false,,,true,2026-01-01\n"
    )
    got = rows(text)
    assert got[0] == (2, "olena@gmail.com", None, None)
    assert "email disabled 'true'" in got[1][3]


def test_line_numbers_stay_right_after_blank_lines_and_quoted_line_breaks():
    text = (
        "\n"  # 1: blank before the header
        "email,name\n"  # 2
        "\n"  # 3
        "a@gmail.com,A\n"  # 4
        "\r\n"  # 5
        'b@gmail.com,"two\nlines"\n'  # 6-7
        ",\n"  # 8: empty cells, skipped as blank
        "bad,C\n"  # 9
    )
    assert [(line, email) for line, email, _, _ in rows(text)] == [
        (4, "a@gmail.com"),
        (6, "b@gmail.com"),
        (9, "bad"),
    ]


def test_no_address_column_says_what_it_found():
    with pytest.raises(ValueError) as caught:
        rows("Ім'я;Телефон\nОлена;123\n")
    message = str(caught.value)
    assert "it has \"Ім'я\", 'Телефон' (read as semicolon-separated)" in message
    assert "name the column of addresses 'email'" in message
    with pytest.raises(ValueError, match="the first line looks like data"):
        rows("olena@gmail.com\ntaras@gmail.com\n")
    with pytest.raises(ValueError, match="the file is empty"):
        rows("\n\n")


def test_an_open_quote_is_still_caught_over_the_rows_it_swallows():
    [row] = rows('email,name\na@gmail.com,"Olena\nb@gmail.com,B\n')
    assert row[0] == 2 and "lines 2-3" in row[3]


def test_a_field_over_the_csv_limit_is_a_clear_error_naming_its_line():
    with pytest.raises(ValueError, match=r"^line 3: field larger than field limit"):
        rows('email\na@gmail.com\n"' + "x" * 200_000 + '"\n')


HEADERS = st.sampled_from(
    ["email", "Email Address;First Name;Last Name", "email\tname", "e-mail,name,status", "name"]
)
CELLS = st.text(alphabet=st.sampled_from('ab@.,;\t"\n\r \x00\ufeffї'), max_size=60)


@settings(max_examples=300, deadline=None)
@given(header=HEADERS, body=CELLS)
def test_any_text_gives_rows_in_line_order_or_a_clear_error(header, body):
    """Whatever a file holds: ValueError with a message, or rows whose lines exist and rise."""
    text = header + "\n" + body
    physical = len(io.StringIO(text, newline="").readlines()) or 1
    try:
        got = list(read_csv(io.StringIO(text, newline="")))
    except ValueError as exc:
        assert str(exc)
        return
    lines = [row.line for row in got]
    assert lines == sorted(set(lines))
    assert all(2 <= line <= physical for line in lines)
    assert all(isinstance(row.email, str) for row in got)
