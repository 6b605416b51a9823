"""Receipts and escalation state beyond the Receipt row (gateway/receipts/owing.py, escalation.py).

``receipt_requests``: one row per message that asks for receipts — the ladder's state for it
(deadline, steps done, when the scheduler must look again). The scheduler's one query is
``next_due_at <= now`` on a partial index, so a pass over 100k open receipts stays cheap; a
request that needs nothing more (all confirmed, ladder done) has ``next_due_at`` NULL and is not
in the index at all.

``escalation_steps``: one row per (message, level, repeat) that was acted on. Its unique key is
what makes "exactly one reminder per recipient and level" hold with two schedulers at once,
together with the outbox idempotency keys and ``FOR UPDATE SKIP LOCKED`` on PostgreSQL.

``receipt_events``: every state change of a receipt or request, under a unique key (so replays
of a message or a tick are harmless); ``audited`` says whether it reached the audit trail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import CheckConstraint, Index, UniqueConstraint
from sqlalchemy.types import Boolean, Integer, String, Text

from gateway.store import states
from gateway.store.models import Base, Id, fk, utcnow

__all__ = ["Base", "EscalationStep", "ReceiptEvent", "ReceiptRequest"]


class ReceiptRequest(Base):
    """One message that asks its recipients for receipts, and where its ladder stands."""

    __tablename__ = "receipt_requests"
    __table_args__ = (
        Index("ix_receipt_requests_due", "next_due_at",
              postgresql_where=text("next_due_at IS NOT NULL"),
              sqlite_where=text("next_due_at IS NOT NULL")),
        CheckConstraint(states.one_of("urgency", states.URGENCIES), name="urgency"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"), index=True)
    message_pk: Mapped[int] = mapped_column(fk("messages.id", "CASCADE"), unique=True)
    record_id: Mapped[int] = mapped_column(fk("records.id"), index=True)
    sender: Mapped[str] = mapped_column(String(320), default="")  # person_key of the author
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime] = mapped_column()
    due_soon_at: Mapped[datetime] = mapped_column()
    # Ladder steps (level × repeat, in time order) already handled, and the events noted.
    steps_done: Mapped[int] = mapped_column(Integer, default=0)
    due_soon_noted: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue_noted: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the scheduler must look at it again; NULL: nothing more to do.
    next_due_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)  # everyone confirmed
    # A closed request reopened by a later question or refusal walks the ladder again: round
    # n+1, its steps keyed apart from those of earlier rounds.
    round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The deadline the directive itself sets (gateway/receipts/deadline.py); no receipt
    # deadline falls after it.
    directive_due: Mapped[datetime | None] = mapped_column(default=None)
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)  # nothing more is sent
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EscalationStep(Base):
    """One ladder step acted on: a reminder round or an escalation mail for one message."""

    __tablename__ = "escalation_steps"
    __table_args__ = (
        UniqueConstraint("message_pk", "round", "level", "repeat",
                         name="uq_escalation_steps_level"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    request_id: Mapped[int] = mapped_column(fk("receipt_requests.id", "CASCADE"), index=True)
    message_pk: Mapped[int] = mapped_column(fk("messages.id", "CASCADE"))
    round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    level: Mapped[int] = mapped_column(Integer)
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    notify: Mapped[str] = mapped_column(String(32))  # recipients | project_manager | …
    due_at: Mapped[datetime] = mapped_column()
    done_at: Mapped[datetime] = mapped_column(default=utcnow)
    targets: Mapped[list[Any]] = mapped_column(default=list)  # addresses written to
    about: Mapped[list[Any]] = mapped_column(default=list)  # [{recipient, status}] unconfirmed
    outbox_keys: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")  # e.g. "promoted from level 2"


class ReceiptEvent(Base):
    """One state change of a receipt or request; ``key`` makes replays harmless."""

    __tablename__ = "receipt_events"
    __table_args__ = (
        Index("ix_receipt_events_unaudited", "project_id", "id",
              postgresql_where=text("NOT audited"), sqlite_where=text("NOT audited")),
        Index("ix_receipt_events_project_id", "project_id"),
        Index("ix_receipt_events_cause_message_pk", "cause_message_pk"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"))
    request_id: Mapped[int | None] = mapped_column(fk("receipt_requests.id", "SET NULL"),
                                                   default=None, index=True)
    receipt_id: Mapped[int | None] = mapped_column(fk("receipts.id", "SET NULL"), default=None,
                                                   index=True)
    cause_message_pk: Mapped[int | None] = mapped_column(fk("messages.id", "SET NULL"),
                                                         default=None)
    # opened | read | confirmed | questioned | declined | reading | unclear | auto_reply |
    # forged | foreign_token | due_soon | overdue | reminded | escalated | skipped | closed |
    # reopened | review_asked | set | waived | extended | remind_now | withdrawn
    kind: Mapped[str] = mapped_column(String(32))
    status_before: Mapped[str | None] = mapped_column(String(16), default=None)
    status_after: Mapped[str | None] = mapped_column(String(16), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    audited: Mapped[bool] = mapped_column(Boolean, default=False)
