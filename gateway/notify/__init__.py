"""Outbound mail: compose (gateway/notify/compose.py), the outbox (outbox.py) and its transports,
templated notices (notices.py), bounces and suppression (bounces.py). See docs/notify.md."""
