"""Deliverability: bounces and complaints coming back in, and what they do.

feedback    the one intake: `record_feedback(FeedbackEvent) -> Outcome` (every source calls it)
classify    hard / soft / policy / complaint from the status code, never the provider's label
readers     which reader and which delivery a notification is about (ids, Message-ID, address)
actions     what a class does to the reader: suppress, count soft bounces, unsubscribe
brakes      a send whose complaint or hard-bounce rate is too high pauses itself
report      delivered, bounced, complained, unsubscribed and their rates, per send and newsletter
(settings: `service.feedback_settings`, read by `service.config`)
providers/  each provider's hook: verify its signature, then parse its events (changes nothing)
"""
