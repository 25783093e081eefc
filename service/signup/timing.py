"""Minimum time-to-submit: a signup sent faster than a person can type is treated as a bot's.

Two clocks, whichever the form carries (a plain third-party form carries neither: no check):

- `form_stamp`: the hosted forms (`/forms/<slug>`, `/subscribe`, the demo page) hold the time
  they were rendered, signed by the server (token purpose `form`), so it cannot be forged; a
  stamp that does not verify counts as a bot. A genuine stamp that is only early (`EARLY`:
  autofill, a quick click) is never dropped: the page answers with a form to press once more,
  carrying the same stamp, and the pages that follow a form (the typo correction) carry the
  stamp it was sent with (`carried_stamp`), not a new one, so a one-click fix goes through.
- `elapsed_ms`: the embed (`/embed.js`) measures the time since it drew the box and sends it.
  The script waits out the rest of `SIGNUP_MIN_SECONDS` itself before posting, so a quick
  person is delayed, never dropped. A number a client reports is only a speed bump for bots
  that run the script; the honeypot and the optional captcha do the rest.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask import current_app

from service.tokens import TokenInvalid, token_service

STAMP_FIELD = "form_stamp"
ELAPSED_FIELD = "elapsed_ms"
EARLY = "stamp"  # the reason for a genuine stamp that came too soon: a person may be behind it


def min_seconds() -> float:
    """The configured minimum (`SIGNUP_MIN_SECONDS`); 0 switches the check off."""
    return max(0.0, float(current_app.config["SIGNUP_MIN_SECONDS"]))


def form_stamp() -> str:
    """A signed stamp of the time a hosted form is rendered, for its hidden `form_stamp`."""
    return token_service("form").dumps({"t": int(time.time() * 1000)})


def too_fast(fields: Mapping[str, Any]) -> str | None:
    """Why this signup looks automated (`stamp`, `tampered_stamp`, `elapsed_ms`), or None."""
    limit_ms = min_seconds() * 1000
    if not limit_ms:
        return None
    stamp = fields.get(STAMP_FIELD)
    if stamp not in (None, ""):
        try:
            issued = token_service("form").loads(str(stamp)).get("t")
        except TokenInvalid:
            return "tampered_stamp"
        if not isinstance(issued, int):
            return "tampered_stamp"
        if time.time() * 1000 - issued < limit_ms:
            return EARLY
    elapsed = fields.get(ELAPSED_FIELD)
    if elapsed not in (None, ""):
        try:
            elapsed_ms = float(elapsed)
        except (TypeError, ValueError):
            return "elapsed_ms"
        if not elapsed_ms >= limit_ms:  # also catches NaN
            return "elapsed_ms"
    return None


def carried_stamp(fields: Mapping[str, Any]) -> str | None:
    """The stamp a follow-up form carries: the one this signup was sent with (already checked
    by `too_fast`), so the reader's next press is timed from the page they first saw."""
    stamp = fields.get(STAMP_FIELD)
    return stamp if isinstance(stamp, str) and stamp else None
