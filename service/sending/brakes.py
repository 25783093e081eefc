"""A send whose complaint or hard-bounce rate passed its limits pauses itself.

The feedback intake (`service.deliverability`) decides that a send must stop and queues this
pause with the event; the batch that met a 5xx during the send applies it at once. Either way
the rates are read again here, and the ordinary pause path (`lifecycle.pause_send`) pauses
the send with the reason (`brakes: complaint rate 0.4% passed 0.3% ...`), announces
`send.paused` and shows the reason in `sends show` and the API.
"""

from __future__ import annotations

import logging
from typing import Any

from service.deliverability import brakes
from service.extensions import db
from service.sending.lifecycle import InvalidTransition, pause_send

log = logging.getLogger(__name__)


def apply(send_id: int) -> bool:
    """Pause the send if its rates are past the limits now; True if this paused it."""
    reason = brakes.due(send_id)
    db.session.commit()
    if reason is None:
        return False
    try:
        pause_send(send_id, f"brakes: {reason}", wait=False)
    except InvalidTransition:  # paused, cancelled or finished meanwhile
        db.session.rollback()
        return False
    log.warning("send %s paused itself: %s", send_id, reason)
    return True


def apply_job(payload: dict[str, Any]) -> None:
    """The `sending.brake` outbox job: `apply` to the send it names."""
    apply(int(payload["send_id"]))
