"""Bounce mail in: the inbound SMTP side of VERP.

Each digest goes out from its reader's signed bounce address (`service.mail.verp`); the
mail that comes back there, delivery reports (RFC 3464) and complaints (ARF, RFC 5965), is
read here (`reports`, with `autoreplies` telling vacation notices apart) and handed to the
one intake of feedback, `service.deliverability.feedback.record_feedback` (`inbound`).
"""
