"""Events out: signed webhooks to the site's systems (its CRM, its analytics).

- `events`: the event types, and `emit`, which a capability calls inside the transaction of
  the change it reports (one outbox job per endpoint that wants the event).
- `endpoints`: the endpoints ops register (API and CLI), their `whsec_` secrets, attempts.
- `network`: which addresses an endpoint may have, checked at creation and on each connect.
- `signing`: Standard Webhooks headers (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
- `delivery`: the outbox job's work: post, record the answer, retry, slow down, disable.
"""
