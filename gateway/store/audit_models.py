"""The append-only, hash-chained audit log and archive/handover rows (gateway/audit)."""

from __future__ import annotations

from gateway.store.models import Base

__all__ = ["Base"]
