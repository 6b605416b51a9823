"""Search support tables for records (gateway/records/search.py)."""

from __future__ import annotations

from gateway.store.models import Base

__all__ = ["Base"]
