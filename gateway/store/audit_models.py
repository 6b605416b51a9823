"""The append-only, hash-chained audit log and the archive, handover and connector rows.

``audit_events`` is the trail of everything that changed a record, receipt, notice or
config-driven decision (policy 1.3 "every important communication traceable"). Each row holds
the SHA-256 of the previous row's canonical JSON (``prev_hash``) and of its own content
(``content_hash``); ``audit_heads`` holds the last seq and hash per project and is the row that
appenders lock, so two workers can never fork the chain (see :mod:`gateway.audit.chain`).

``archive_exports`` remembers each archive written (what it covers, its checksum): retention
(:mod:`gateway.archive.retention`) only purges what an export covers. ``handovers`` is the project's
hand-over to the quality department (policy 7). ``connector_deliveries`` is the outbox of the
business-process system (policy 4.4, DingTalk): one row per (record, connector).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import CheckConstraint, Index, UniqueConstraint
from sqlalchemy.types import JSON, BigInteger, Integer, String, Text

from gateway.store import states
from gateway.store.models import Base, Id, fk, utcnow

__all__ = ["ArchiveExport", "AuditEvent", "AuditHead", "Base", "ConnectorDelivery", "Handover"]


class AuditHead(Base):
    """The end of one project's chain: locked (``FOR UPDATE``) by every append."""

    __tablename__ = "audit_heads"

    project_id: Mapped[int] = mapped_column(fk("projects.id"), primary_key=True,
                                            autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """One entry of the trail; never updated, never deleted (purge leaves it in place)."""

    __tablename__ = "audit_events"
    __table_args__ = (UniqueConstraint("project_id", "seq", name="uq_audit_events_seq"),
                      Index("ix_audit_events_subject", "subject_type", "subject_id"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(128))
    before: Mapped[Any] = mapped_column(JSON, default=None, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, default=None, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))


class ArchiveExport(Base):
    """One archive written: a hand-over, a periodic archive or a manual export."""

    __tablename__ = "archive_exports"
    __table_args__ = (
        Index("ix_archive_exports_project", "project_id", "covers_until"),
        CheckConstraint(states.one_of("kind", states.ARCHIVE_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"))
    kind: Mapped[str] = mapped_column(String(16))  # manual | periodic | handover
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))  # of the zip file
    size: Mapped[int] = mapped_column(BigInteger)
    messages: Mapped[int] = mapped_column(Integer)
    records: Mapped[int] = mapped_column(Integer)
    audit_seq: Mapped[int] = mapped_column(BigInteger)  # chain length inside the archive
    # Everything received/changed before this instant is in the archive.
    covers_until: Mapped[datetime] = mapped_column()
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Handover(Base):
    """The project's archive handed to the quality department's interface person (policy 7)."""

    __tablename__ = "handovers"
    __table_args__ = (Index("ix_handovers_archive_id", "archive_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"), unique=True)
    archive_id: Mapped[int] = mapped_column(fk("archive_exports.id"))
    department: Mapped[str] = mapped_column(String(128))
    recipient_name: Mapped[str] = mapped_column(String(128))
    recipient: Mapped[str] = mapped_column(String(320))
    outbox_key: Mapped[str | None] = mapped_column(String(255), default=None)
    actor: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConnectorDelivery(Base):
    """One record pushed to one business-process connector; a state machine like the outbox::

        pending ──claim──▶ sending ──2xx──▶ sent
           ▲                  │ error / timeout / errcode ≠ 0
           └── back-off ◀─────┘   (a `sending` row past its lease is claimed again)
    """

    __tablename__ = "connector_deliveries"
    __table_args__ = (UniqueConstraint("record_id", "connector", name="uq_connector_deliveries"),
                      Index("ix_connector_deliveries_due", "state", "next_attempt_at"),
                      CheckConstraint(states.one_of("state", states.CONNECTOR_STATES),
                                      name="state"))

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"), index=True)
    record_id: Mapped[int] = mapped_column(fk("records.id", "CASCADE"))
    connector: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the record as it qualified
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
