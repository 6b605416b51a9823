"""Every table of the gateway: importing this module registers all models on ``Base.metadata``.

Alembic's environment imports it, so autogenerate sees each stage's tables. A stage that adds a
model module adds its import here.
"""

from __future__ import annotations

from gateway.store import (  # noqa: F401 - imported for their tables
    audit_models,
    imap_models,
    notify_models,
    receipt_models,
    search_models,
)
from gateway.store.models import Base

metadata = Base.metadata
