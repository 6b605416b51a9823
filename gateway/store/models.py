"""The database schema (SQLAlchemy 2.0 declarative). The database is the source of truth.

Tables, in pipeline order: ``projects`` → ``messages`` (+ ``arrivals``, one per channel a
message came in by) → ``threads`` / ``thread_refs`` (every Message-ID seen or referenced, for
incremental threading) → ``records`` → ``receipts``. Idempotency comes from unique keys, never from
"check then insert" alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from gateway.store import states

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on every backend (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def fk(target: str, ondelete: str = "RESTRICT") -> ForeignKey:
    """A foreign key with its delete rule spelled out (migration 0003): RESTRICT unless deleting
    the parent is legitimate (retention) — then CASCADE for rows that cannot outlive it, SET NULL
    for rows that can."""
    return ForeignKey(target, ondelete=ondelete)


# BigInteger ids on PostgreSQL, but SQLite only autoincrements INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    address: Mapped[str] = mapped_column(String(320))
    intake_open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RawBlob(Base):
    """The raw bytes of a small message, kept inline (gateway/store/raw.py): written in the same
    transaction as its message row, so both are durable with one commit."""

    __tablename__ = "raw_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Message(Base):
    """One stored mail: its raw bytes (content-addressed by SHA-256) and what parsing found."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("project_id", "message_id", "content_hash", name="uq_messages_identity"),
        Index("ix_messages_state", "state", "id"),
        Index("ix_messages_project_received", "project_id", "received_at"),
        CheckConstraint(states.one_of("state", states.MESSAGE_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(998))
    message_id_synthetic: Mapped[bool] = mapped_column(Boolean, default=False)
    # SHA-256 of the raw bytes as received (the raw store's key) and of the body alone: the same
    # mail reaching us by SMTP and by IMAP differs in its trace headers, not in its body.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    # received → processed | quarantined | discarded (needs no record); see MESSAGE_STATES
    state: Mapped[str] = mapped_column(String(16), default="received")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    history: Mapped[bool] = mapped_column(Boolean, default=False)  # imported with --history
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a job was last sent for it; NULL: stored by a process without a broker (CLI import),
    # so the next sweep of a running gateway picks it up.
    enqueued_at: Mapped[datetime | None] = mapped_column(default=None)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    # Filled by the parse stage.
    subject: Mapped[str] = mapped_column(Text, default="")
    from_addr: Mapped[str | None] = mapped_column(String(320), default=None)
    from_name: Mapped[str] = mapped_column(String(256), default="")
    to_addrs: Mapped[list[Any]] = mapped_column(default=list)
    cc_addrs: Mapped[list[Any]] = mapped_column(default=list)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    own_text: Mapped[str] = mapped_column(Text, default="")
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    thread_id: Mapped[int | None] = mapped_column(fk("threads.id"),
                                                  default=None, index=True)
    # RESTRICT: a record with messages is never deleted (merges move them first).
    record_id: Mapped[int | None] = mapped_column(fk("records.id"),
                                                  default=None, index=True)

    arrivals: Mapped[list[Arrival]] = relationship(back_populates="message",
                                                   order_by="Arrival.id")


class Arrival(Base):
    """One delivery of a message to us: by which channel, from whom, when."""

    __tablename__ = "arrivals"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_pk: Mapped[int] = mapped_column(fk("messages.id", "CASCADE"),
                                            index=True)
    channel: Mapped[str] = mapped_column(String(16))  # smtp|lmtp|imap|import
    peer: Mapped[str] = mapped_column(String(255), default="")
    envelope_from: Mapped[str] = mapped_column(String(320), default="")
    envelope_to: Mapped[list[Any]] = mapped_column(default=list)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="arrivals")


class Thread(Base):
    __tablename__ = "threads"
    __table_args__ = (
        # the subject fall-back looks up recent threads by normalised subject
        Index("ix_threads_subject", "project_id", "subject_key", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"), index=True)
    subject_key: Mapped[str] = mapped_column(String(512), default="")
    merged_into: Mapped[int | None] = mapped_column(
        fk("threads.id", "SET NULL"), default=None, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ThreadRef(Base):
    """A Message-ID we stored or saw referenced (a JWZ container), and the thread it belongs to."""

    __tablename__ = "thread_refs"
    __table_args__ = (UniqueConstraint("project_id", "message_id", name="uq_thread_refs_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"))
    message_id: Mapped[str] = mapped_column(String(998))
    thread_id: Mapped[int] = mapped_column(fk("threads.id", "CASCADE"),
                                           index=True)
    parent_id: Mapped[str | None] = mapped_column(String(998), default=None)
    seen: Mapped[bool] = mapped_column(Boolean, default=False)  # False: a phantom container


class Record(Base):
    """A communication record: one thread with its classification and confirmations."""

    __tablename__ = "records"
    __table_args__ = (
        Index("ix_records_project_created", "project_id", "created_at"),
        Index("ix_records_project_updated", "project_id", "updated_at"),
        CheckConstraint(states.one_of("category", states.CATEGORIES), name="category"),
        CheckConstraint(states.one_of("stakeholder_group", states.GROUPS), name="group"),
        CheckConstraint(states.one_of("formality", states.FORMALITIES), name="formality"),
        CheckConstraint(states.one_of("urgency", states.URGENCIES), name="urgency"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    project_id: Mapped[int] = mapped_column(fk("projects.id"), index=True)
    thread_id: Mapped[int] = mapped_column(fk("threads.id"), unique=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(32), default="general")
    stakeholder_group: Mapped[str] = mapped_column(String(32), default="internal")
    formality: Mapped[str] = mapped_column(String(32), default="written")
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    receipt_required: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(Text, default="")
    conclusion: Mapped[str | None] = mapped_column(Text, default=None)
    parties: Mapped[list[Any]] = mapped_column(default=list)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    # Earlier classifications of this record (e.g. a discussion that reached a decision).
    history: Mapped[list[Any]] = mapped_column(default=list)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    receipts: Mapped[list[Receipt]] = relationship(back_populates="record", order_by="Receipt.id")


class Receipt(Base):
    """One recipient's confirmation of one message (gateway/receipts/owing.py).

    ``status``: pending, read, confirmed, questioned, declined, waived — the moves between them
    are gateway/receipts/states.py; the latest counting answer decides.
    ``level``: the highest ladder level whose mail named this receipt (0: not yet reminded).
    The ladder's state for the whole message is its ``receipt_requests`` row.
    """

    __tablename__ = "receipts"
    __table_args__ = (
        UniqueConstraint("message_pk", "recipient", name="uq_receipts_recipient"),
        Index("ix_receipts_answer_message_pk", "answer_message_pk"),
        CheckConstraint(states.one_of("status", states.RECEIPT_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # RESTRICT: a receipt goes with its message (CASCADE), never silently with its record.
    record_id: Mapped[int] = mapped_column(fk("records.id"), index=True)
    message_pk: Mapped[int] = mapped_column(fk("messages.id", "CASCADE"))
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    deadline: Mapped[datetime | None] = mapped_column(default=None)
    level: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # person_key(recipient): how replies are matched (case, plus-tags, IDN folded).
    recipient_key: Mapped[str] = mapped_column(String(320), default="")
    recipient_name: Mapped[str] = mapped_column(String(256), default="")
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    answered_at: Mapped[datetime | None] = mapped_column(default=None)
    # The message that last moved this receipt (a reply or an MDN).
    answer_message_pk: Mapped[int | None] = mapped_column(
        fk("messages.id", "SET NULL"), default=None)
    # What was noticed without changing the status: auto-replies, unclear or forged replies.
    notes: Mapped[list[Any]] = mapped_column(default=list)
    # A reply nobody could read (``unclear``) waits for the author to settle it (issue 15).
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    record: Mapped[Record] = relationship(back_populates="receipts")
