"""When a send has gone bad: complaint and hard-bounce rates against limits.

Once `BRAKE_MIN_MESSAGES` messages of a send are handed over (`sent` + `failed`), a
complaint rate (complainers over `sent`) above `BRAKE_COMPLAINT_RATE` (0.3%), or a bounce
rate (hard bounces and 5.7.x policy refusals, readers over the messages handed over) above
`BRAKE_BOUNCE_RATE` (5%) means the send must pause: the feedback intake queues the
`sending.brake` job, which pauses it through the ordinary pause path with the reason
(`service.sending.brakes`: the `send.paused` event, `sends show`, the API's `paused_reason`). A complaint rate above
`BRAKE_COMPLAINT_WARN_RATE` (0.1%) is a warning, shown but not acted on.
"""

from __future__ import annotations

from flask import current_app

from service.extensions import db
from service.models import Send, SendStatus

BRAKED = (SendStatus.SENDING, SendStatus.SCHEDULED)


def _limits() -> tuple[int, float, float, float]:
    config = current_app.config
    return (
        int(config["BRAKE_MIN_MESSAGES"]),
        float(config["BRAKE_COMPLAINT_RATE"]),
        float(config["BRAKE_BOUNCE_RATE"]),
        float(config["BRAKE_COMPLAINT_WARN_RATE"]),
    )


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}".rstrip("0").rstrip(".") + "%"


def verdict(sent: int, failed: int, counts: dict[str, int]) -> tuple[str | None, str | None]:
    """(the reason to pause, or None; a warning, or None) for a send's figures."""
    minimum, complaint_limit, bounce_limit, warn = _limits()
    handed = sent + failed
    complaints = counts["complained"]
    bounces = counts["bounced_hard"] + counts["refused_policy"]
    complaint_rate = complaints / sent if sent else 0.0
    bounce_rate = bounces / handed if handed else 0.0
    warning = None
    if complaint_rate > warn and complaints:
        warning = f"complaint rate {_pct(complaint_rate)} is above {_pct(warn)}"
    if handed < minimum:
        return None, warning
    if complaint_rate > complaint_limit:
        return (
            f"complaint rate {_pct(complaint_rate)} passed {_pct(complaint_limit)} "
            f"({complaints} of {sent} messages)",
            warning,
        )
    if bounce_rate > bounce_limit:
        return (
            f"hard-bounce rate {_pct(bounce_rate)} passed {_pct(bounce_limit)} "
            f"({bounces} of {handed} messages)",
            warning,
        )
    return None, warning


def due(send_id: int) -> str | None:
    """The reason the send should pause now (in the session's transaction), or None when it
    is not sending or its rates are within the limits."""
    from service.deliverability.report import feedback_counts

    send = db.session.get(Send, send_id, populate_existing=True)
    if send is None or send.status not in BRAKED:
        return None
    return verdict(send.sent, send.failed, feedback_counts([send_id]))[0]
