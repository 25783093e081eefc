"""Signing readers up: from a typed address to a confirmed subscription (double opt-in).

timing     minimum time-to-submit (a signup faster than a person types is a bot's)
captcha    the optional human check (Turnstile, hCaptcha), verified server-side
accept     the web request's side: check, store the signup as one outbox job, answer 202
spool      where a signup waits while the database is away (Redis list, or journal: journal.py)
replay     spooled signups back into the outbox once the database answers, in order, once
apply      the worker's side: subscriber, subscriptions, consent and confirmation, once
confirm    the confirmation link and email: tokens bound to the reader's state

Which addresses are acceptable is `service.addresses`: imports, staff tools and mail use it too.
"""
