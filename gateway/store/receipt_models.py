"""Receipts and escalation state beyond the Receipt row (gateway/receipts.py, gateway/escalation.py)."""

from __future__ import annotations

from gateway.store.models import Base

__all__ = ["Base"]
