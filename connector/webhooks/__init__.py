"""Coverbase webhooks: the receiver (``python -m connector.webhooks``) and the subscription commands
(``python -m connector webhooks ...``). A delivery is only a nudge: the outcomes sensor re-reads the
assessment before anything is written to ServiceNow."""
