"""Outbox and notices: every outbound mail is first a row here (gateway/notify).

``outbox`` holds the rendered MIME bytes and the delivery state machine::

    queued ──claim──▶ sending ──250──▶ sent
      ▲                  │ 4xx / connection error      (5xx for every recipient: failed)
      └──── retry ◀──────┘  (after back-off; a `sending` row past its lease is claimed again)

``outbox_recipients`` is one row per envelope recipient, so a relay that refuses some recipients
(5xx) and accepts others is recorded exactly, bounces are kept per address, and the per-recipient
rate limit is one indexed count. ``suppressions`` lists addresses that sent automated mail: the
gateway never writes to them (RFC 3834 §2). ``report_runs`` remembers each generated report
per period (idempotent scheduling, drafts awaiting approval); ``expected_alerts`` each reminder
about a missing expected communication, one per level.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.schema import CheckConstraint, Index, UniqueConstraint
from sqlalchemy.types import Boolean, Integer, LargeBinary, String, Text

from gateway.store import states
from gateway.store.models import Base, Id, fk, utcnow

__all__ = ["Base", "ExpectedAlert", "OutboxMail", "OutboxRecipient", "ReportRun", "Suppression"]


class OutboxMail(Base):
    """One outbound mail: rendered bytes, envelope, and where its delivery stands."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "state", "next_attempt_at"),
        Index("ix_outbox_receipt_id", "receipt_id"),
        CheckConstraint(states.one_of("state", states.OUTBOX_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # notice kind, report kind, reminder, bounce…
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    envelope_from: Mapped[str] = mapped_column(String(320))
    author: Mapped[str] = mapped_column(String(320), default="")  # told about bounces
    automated: Mapped[bool] = mapped_column(Boolean, default=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # SET NULL: a sent mail outlives the record retention purges (its bytes are the proof).
    record_id: Mapped[int | None] = mapped_column(fk("records.id", "SET NULL"), default=None,
                                                  index=True)
    receipt_id: Mapped[int | None] = mapped_column(fk("receipts.id", "SET NULL"), default=None)
    # queued | sending | retry | sent | failed
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    bounced: Mapped[bool] = mapped_column(Boolean, default=False)  # a DSN came back for it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    recipients: Mapped[list[OutboxRecipient]] = relationship(
        back_populates="mail", order_by="OutboxRecipient.id", cascade="all, delete-orphan")


class OutboxRecipient(Base):
    """One envelope recipient of one outbox mail and its own outcome."""

    __tablename__ = "outbox_recipients"
    __table_args__ = (
        UniqueConstraint("outbox_id", "address", name="uq_outbox_recipients_address"),
        Index("ix_outbox_recipients_rate", "project_id", "address", "created_at"),
        CheckConstraint(states.one_of("state", states.OUTBOX_RECIPIENT_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(fk("outbox.id", "CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"))
    address: Mapped[str] = mapped_column(String(320))
    # pending | sent | failed (5xx, or gave up) | suppressed | limited | bounced
    state: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    mail: Mapped[OutboxMail] = relationship(back_populates="recipients")


class Suppression(Base):
    """An address that gets no automatic answers until ``expires_at`` (it sent verified
    automated mail: RFC 3834 §2). Reminders and escalations are never held back by it."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("project_id", "address", name="uq_suppressions_address"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"))
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)  # None: until lifted


class ReportRun(Base):
    """A generated report for one period: drafted (awaiting the owner), sent, or skipped."""

    __tablename__ = "report_runs"
    __table_args__ = (
        UniqueConstraint("project_id", "kind", "period", name="uq_report_runs_period"),
        Index("ix_report_runs_outbox_id", "outbox_id"),
        CheckConstraint(states.one_of("state", states.REPORT_RUN_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # weekly | monthly | phase | incident | risk
    period: Mapped[str] = mapped_column(String(64))  # 2026-W48, 2026-11, record:<id>, …
    state: Mapped[str] = mapped_column(String(16), default="sent")  # draft | sent
    draft_message_id: Mapped[str | None] = mapped_column(String(998), default=None, index=True)
    outbox_id: Mapped[int | None] = mapped_column(fk("outbox.id", "SET NULL"), default=None)
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)  # figures, for the audit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)


class ExpectedAlert(Base):
    """One reminder about an expected communication that did not pass the gateway in time."""

    __tablename__ = "expected_alerts"
    __table_args__ = (
        UniqueConstraint("project_id", "kind", "owner", "period", "level",
                         name="uq_expected_alerts_level"),
        Index("ix_expected_alerts_outbox_id", "outbox_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"))
    kind: Mapped[str] = mapped_column(String(64))  # the matrix row's kind
    owner: Mapped[str] = mapped_column(String(320))
    period: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer)  # 0: owner reminded, 1: manager told
    outbox_id: Mapped[int | None] = mapped_column(fk("outbox.id", "SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
