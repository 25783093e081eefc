"""The console's front page: every newsletter with its readers and its last thirty days (signups,
confirmations, unsubscribes, bounces, net growth, drawn and in a table), the last sends, and the
send in progress with a live bar."""

from __future__ import annotations

from flask_login import current_user

from service.console import bp, charts
from service.console.auth import action_form
from service.console.figures import send_view
from service.console.pages import render
from service.lists.newsletters import list_newsletters
from service.sending import scheduling, summary

LAST_SENDS = 10


@bp.get("/")
def dashboard():
    """Newsletters (readers by status, the last thirty days), the last sends, what is going
    out now."""
    newsletters = [
        {
            "newsletter": n,
            "readers": scheduling.readers_by_status(n.id),
            "month": charts.last_month(n.id),
        }
        for n in list_newsletters()
    ]
    sends = [send_view(s) for s in summary.list_sends(None, None, None, LAST_SENDS)]
    return render(
        "console/dashboard.html",
        newsletters=newsletters,
        sends=sends,
        member=current_user,
        form=action_form(),
    )
