"""Search support tables for records (queried by gateway/records/search.py).

``record_search`` holds one row per record with the text a project manager searches: the
subjects of its messages, their own text (quotes stripped, so a long thread does not repeat
itself) and its attachment names. The record stage rewrites the row whenever a message joins the
record; the table is derived data, so ``commgate records reindex`` can rebuild it at any time.

``record_attachments`` lists the attachments of a record's messages (name, type, size), as the
parse stage found them — for the record view, the key communication record form and search.

The full-text index itself is dialect-specific and lives outside the ORM, in :data:`SEARCH_DDL`:

* SQLite: an FTS5 external-content table with the ``trigram`` tokenizer (SQLite ≥ 3.34), kept in
  step by triggers. Trigrams make substring search work for Chinese, which has no spaces between
  words; queries shorter than three characters fall back to ``LIKE`` (search.py).
* PostgreSQL: the ``pg_trgm`` extension and a GIN trigram index on the three fields joined
  (:data:`DOCUMENT_SQL`), which serves ``LIKE``/``ILIKE '%…%'``. CJK characters form trigrams
  only when the database's LC_CTYPE classifies them as letters (C.UTF-8, zh_CN.UTF-8,
  en_US.UTF-8 do; plain "C" does not): the query is still right
  then, only slower.

The same statements are attached to ``create_all`` (after the table is created), so tests and
fresh development databases get them; the Alembic migration runs them explicitly.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Index, Integer, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.models import Base, Id, fk, utcnow

__all__ = ["DOCUMENT_SQL", "SEARCH_DDL", "SEARCH_DROP_DDL", "Base", "RecordAttachment",
           "RecordSearch"]

FTS_TABLE = "record_search_fts"
_COLS = "subject, body, attachments"
_NEW = "new.record_id, new.subject, new.body, new.attachments"
_OLD = "old.record_id, old.subject, old.body, old.attachments"
# The searched text on PostgreSQL; queries must spell it exactly so for the index to serve them.
DOCUMENT_SQL = "subject || ' ' || attachments || ' ' || body"

SEARCH_DDL: dict[str, tuple[str, ...]] = {
    "sqlite": (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({_COLS}, "
        "content='record_search', content_rowid='record_id', tokenize='trigram')",
        f"CREATE TRIGGER IF NOT EXISTS record_search_ai AFTER INSERT ON record_search BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, {_COLS}) VALUES ({_NEW}); END",
        f"CREATE TRIGGER IF NOT EXISTS record_search_ad AFTER DELETE ON record_search BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_COLS}) VALUES ('delete', {_OLD}); END",
        f"CREATE TRIGGER IF NOT EXISTS record_search_au AFTER UPDATE ON record_search BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, {_COLS}) VALUES ('delete', {_OLD}); "
        f"INSERT INTO {FTS_TABLE}(rowid, {_COLS}) VALUES ({_NEW}); END",
        # Index whatever rows the table already holds (a migration on a populated database).
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
    ),
    "postgresql": (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
        # One index over the three fields (the expression search.py filters on): the planner
        # would not combine three per-column GIN indexes under OR and scans the table instead.
        f"CREATE INDEX IF NOT EXISTS ix_record_search_document_trgm ON record_search "
        f"USING gin (({DOCUMENT_SQL}) gin_trgm_ops)",
    ),
}

# For the migration's downgrade, before dropping record_search (the extension stays: others
# may use it).
SEARCH_DROP_DDL: dict[str, tuple[str, ...]] = {
    "sqlite": ("DROP TRIGGER IF EXISTS record_search_ai", "DROP TRIGGER IF EXISTS record_search_ad",
               "DROP TRIGGER IF EXISTS record_search_au", f"DROP TABLE IF EXISTS {FTS_TABLE}"),
    "postgresql": ("DROP INDEX IF EXISTS ix_record_search_document_trgm",),
}


class RecordSearch(Base):
    """The searchable text of one record (rewritten by the record stage)."""

    __tablename__ = "record_search"

    # On SQLite an INTEGER PRIMARY KEY is the rowid, which the FTS5 table points at.
    record_id: Mapped[int] = mapped_column(
        Id, fk("records.id", "CASCADE"), primary_key=True, autoincrement=False)
    project_id: Mapped[int] = mapped_column(fk("projects.id"), index=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[str] = mapped_column(Text, default="")  # one name per line
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RecordAttachment(Base):
    """One attachment of one message of a record, by name (the bytes stay in the raw mail)."""

    __tablename__ = "record_attachments"
    __table_args__ = (
        UniqueConstraint("message_pk", "position", name="uq_record_attachments_part"),
        Index("ix_record_attachments_record", "record_id", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    record_id: Mapped[int] = mapped_column(fk("records.id", "CASCADE"))
    message_pk: Mapped[int] = mapped_column(fk("messages.id", "CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # order within the message
    filename: Mapped[str] = mapped_column(String(512), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)


for _dialect, _statements in SEARCH_DDL.items():
    for _statement in _statements:
        event.listen(RecordSearch.__table__, "after_create",
                     DDL(_statement).execute_if(dialect=_dialect))  # type: ignore[no-untyped-call]
for _dialect, _statements in SEARCH_DROP_DDL.items():
    for _statement in _statements:
        event.listen(RecordSearch.__table__, "before_drop",
                     DDL(_statement).execute_if(dialect=_dialect))  # type: ignore[no-untyped-call]
