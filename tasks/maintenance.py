"""Housekeeping run by beat: expire signups that were never confirmed."""

from celery import shared_task

from service.unsubscribe import purge_expired_pending


@shared_task(name="maintenance.purge_expired_pending")
def purge_pending() -> int:
    """Purge pending signups older than `PENDING_EXPIRY_DAYS`; return how many expired."""
    return purge_expired_pending()
