"""Leaving and choosing: links in every email, one-click unsubscribe, preferences, suppression.

links        signed unsubscribe and preference links, their URLs, `List-Unsubscribe`
changes      status changes a reader makes: unsubscribe, unsubscribe from all, undo, preferences
suppression  the addresses never to mail again (kept as hashes), bounces
expiry       unconfirmed signups dropped after `PENDING_EXPIRY_DAYS`
manage_link  "manage my subscriptions": a preference link by email
"""
