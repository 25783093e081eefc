"""The bounce mail samples of `tests/data/dsn/`, filled in for one reader's delivery."""

from __future__ import annotations

from pathlib import Path

DSN = Path(__file__).resolve().parents[1] / "data" / "dsn"
SAMPLES = sorted(path.name for path in DSN.glob("*.rfc822"))


def sample(name: str, *, verp: str, rcpt: str, msgid: str) -> bytes:
    """Sample `name` addressed to `verp`, about the message `msgid` to `rcpt`, CRLF ends."""
    text = (DSN / name).read_text(encoding="utf-8")
    text = text.replace("{verp}", verp).replace("{rcpt}", rcpt).replace("{msgid}", msgid)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
