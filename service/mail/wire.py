"""One SMTP mail transaction on an open smtplib connection, with PIPELINING when offered.

`prepare` turns a message into its DATA form (CRLF line ends, dot-stuffed, ending in CRLF).
A message that is already in that form (every message `service.sending.personalize` makes)
is recognised by a few C-speed scans and returned as it is, so an 8 KB digest is not
rewritten twice per send as `smtplib.SMTP.data` does.

`sendmail` behaves like `smtplib.SMTP.sendmail` for one prepared message (same exceptions,
same RSET/close after a failure, same `SIZE=` option) but, when the relay advertises
PIPELINING (RFC 2920), writes MAIL, every RCPT and DATA at once and then reads their
replies: two round trips per message instead of 3 + recipients. It marks the connection's
`data_started` when it waits for the DATA reply, the point after which a dropped connection
may mean the relay has the message.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from collections.abc import Sequence

CRLF = b"\r\n"
_EOL = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"^\.", re.M)
_PLAIN_ADDRESS = re.compile(r'[^\s<>()\[\]\\,;:"@]+@[^\s<>()\[\]\\,;:"@]+')


class DataBytes(bytes):
    """A message its maker guarantees to be in DATA form already (see `prepare`): CRLF line
    ends only, no line starting with a dot, a final CRLF. `prepare` trusts it unread."""

    __slots__ = ()


def is_prepared(message: bytes) -> bool:
    """True if `message` already is DATA: CRLF line ends only, no line starts with a dot."""
    if type(message) is DataBytes:
        return True
    crlf = message.count(CRLF)
    return (
        message.endswith(CRLF)
        and message.count(b"\n") == crlf
        and message.count(b"\r") == crlf
        and b"\n." not in message
        and not message.startswith(b".")
    )


def prepare(message: bytes) -> bytes:
    """`message` as DATA: line ends made CRLF, leading dots doubled, a final CRLF added."""
    if is_prepared(message):
        return message
    data = _LEADING_DOT.sub(b"..", _EOL.sub(CRLF, message))
    return data if data.endswith(CRLF) else data + CRLF


def quote_address(address: str) -> str:
    """`smtplib.quoteaddr`, without its address parser for a plain `local@domain`."""
    if _PLAIN_ADDRESS.fullmatch(address):
        return f"<{address}>"
    return smtplib.quoteaddr(address)


def _command(conn: smtplib.SMTP, verb: str, address: str, options: Sequence[str]) -> bytes:
    line = f"{verb}:{quote_address(address)}"
    if options and conn.does_esmtp:
        line += " " + " ".join(options)
    return line.encode(conn.command_encoding) + CRLF


def _reset(conn: smtplib.SMTP, code: int) -> None:
    """After a refusal: a 421 means the relay is closing, anything else gets an RSET."""
    if code == 421:
        conn.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        conn.rset()


def _mail_options(conn: smtplib.SMTP, data: bytes, options: Sequence[str]) -> list[str]:
    esmtp = [f"size={len(data)}"] if conn.does_esmtp and conn.has_extn("size") else []
    esmtp.extend(options)
    if any(option.lower() == "smtputf8" for option in esmtp):
        if not conn.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server")
        conn.command_encoding = "utf-8"
    return esmtp


def sendmail(
    conn: smtplib.SMTP,
    data: bytes,
    sender: str,
    recipients: Sequence[str],
    options: Sequence[str] = (),
) -> tuple[tuple[int, bytes], dict[str, tuple[int, bytes]]]:
    """Send prepared `data`; return the DATA reply and the refused recipients.

    Raises what `smtplib.SMTP.sendmail` raises, after the same RSET (or close on 421).
    """
    conn.data_started = False
    conn.ehlo_or_helo_if_needed()
    mail = _command(conn, "MAIL FROM", sender, _mail_options(conn, data, options))
    rcpts = [_command(conn, "RCPT TO", address, ()) for address in recipients]
    pipelining = conn.does_esmtp and conn.has_extn("pipelining")
    if pipelining:
        conn.send(b"".join((mail, *rcpts, b"DATA\r\n")))
    else:
        conn.send(mail)
    code, text = conn.getreply()
    if code != 250:
        if pipelining and code != 421:
            _skip_replies(conn, len(rcpts) + 1)
        _reset(conn, code)
        raise smtplib.SMTPSenderRefused(code, text, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for address, rcpt in zip(recipients, rcpts, strict=True):
        if not pipelining:
            conn.send(rcpt)
        code, text = conn.getreply()
        if code not in (250, 251):
            refused[address] = (code, text)
        if code == 421:
            conn.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(rcpts):
        if pipelining:
            _skip_replies(conn, 1)
        _reset(conn, 0)
        raise smtplib.SMTPRecipientsRefused(refused)
    conn.data_started = True
    if not pipelining:
        conn.send(b"DATA\r\n")
    code, text = conn.getreply()
    if code != 354:
        _reset(conn, code)
        raise smtplib.SMTPDataError(code, text)
    conn.send(data + b".\r\n")
    code, text = conn.getreply()
    if code != 250:
        _reset(conn, code)
        raise smtplib.SMTPDataError(code, text)
    return (code, text), refused


def _skip_replies(conn: smtplib.SMTP, count: int) -> None:
    """Read the replies to pipelined commands that followed a refusal.

    A relay that answers DATA with 354 although it refused the envelope gets an empty
    message, which it cannot deliver to anyone.
    """
    for _ in range(count):
        code, _text = conn.getreply()
        if code == 354:
            conn.send(b".\r\n")
            conn.getreply()
        if code == 421:
            conn.close()
            return
