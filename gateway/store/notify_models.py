"""Outbox and notices: every outbound mail is first a row here (gateway/notify)."""

from __future__ import annotations

from gateway.store.models import Base

__all__ = ["Base"]
