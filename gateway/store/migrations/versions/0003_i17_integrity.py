"""integrity: delete rules on every foreign key, indexes on foreign keys, CHECKs on states

Every foreign key says what deleting its parent does: RESTRICT, unless deleting the parent is
legitimate (retention purges messages, records and threads) — then CASCADE for rows that cannot
outlive it (arrivals, receipts of a message, search rows, thread containers) and SET NULL for
rows that can (outbox mail, receipt events). Indexes on the foreign-key columns that had none,
and on (project_id, received_at) / (project_id, updated_at). CHECK constraints on every state
and code column; ``messages.state`` gains a real ``discarded``.

Written with literal DDL, never the live models, so its meaning never changes. SQLite rebuilds
each table (batch mode, foreign keys off while it runs: see env.py); PostgreSQL alters in place.

Revision ID: 0003_i17
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision, down_revision = "0003_i17", "0002"
branch_labels = depends_on = None

R, C, N = "RESTRICT", "CASCADE", "SET NULL"

# table → [(column, referred table, ON DELETE)]; the referred column is always ``id``.
FOREIGN_KEYS: dict[str, list[tuple[str, str, str]]] = {
    "archive_exports": [("project_id", "projects", R)],
    "audit_events": [("project_id", "projects", R)],
    "audit_heads": [("project_id", "projects", R)],
    "imap_cursors": [("project_id", "projects", R)],
    "suppressions": [("project_id", "projects", R)],
    "threads": [("project_id", "projects", R), ("merged_into", "threads", N)],
    "handovers": [("project_id", "projects", R), ("archive_id", "archive_exports", R)],
    "records": [("project_id", "projects", R), ("thread_id", "threads", R)],
    "thread_refs": [("project_id", "projects", R), ("thread_id", "threads", C)],
    "connector_deliveries": [("project_id", "projects", R), ("record_id", "records", C)],
    "messages": [("project_id", "projects", R), ("thread_id", "threads", R),
                 ("record_id", "records", R)],
    "record_search": [("project_id", "projects", R), ("record_id", "records", C)],
    "arrivals": [("message_pk", "messages", C)],
    "receipt_requests": [("project_id", "projects", R), ("message_pk", "messages", C),
                         ("record_id", "records", R)],
    "receipts": [("record_id", "records", R), ("message_pk", "messages", C),
                 ("answer_message_pk", "messages", N)],
    "record_attachments": [("record_id", "records", C), ("message_pk", "messages", C)],
    "escalation_steps": [("request_id", "receipt_requests", C), ("message_pk", "messages", C)],
    "outbox": [("project_id", "projects", R), ("record_id", "records", N),
               ("receipt_id", "receipts", N)],
    "receipt_events": [("project_id", "projects", R), ("request_id", "receipt_requests", N),
                       ("receipt_id", "receipts", N), ("cause_message_pk", "messages", N)],
    "expected_alerts": [("project_id", "projects", R), ("outbox_id", "outbox", N)],
    "outbox_recipients": [("outbox_id", "outbox", C), ("project_id", "projects", R)],
    "report_runs": [("project_id", "projects", R), ("outbox_id", "outbox", N)],
}
# What 0001 created, for the downgrade: record_search and record_attachments cascaded already.
OLD_CASCADES = {("record_search", "record_id"), ("record_attachments", "record_id")}

INDEXES: dict[str, list[tuple[str, list[str]]]] = {
    "messages": [("ix_messages_project_received", ["project_id", "received_at"])],
    "records": [("ix_records_project_updated", ["project_id", "updated_at"])],
    "receipts": [("ix_receipts_answer_message_pk", ["answer_message_pk"])],
    "receipt_events": [("ix_receipt_events_project_id", ["project_id"]),
                       ("ix_receipt_events_cause_message_pk", ["cause_message_pk"])],
    "outbox": [("ix_outbox_receipt_id", ["receipt_id"])],
    "report_runs": [("ix_report_runs_outbox_id", ["outbox_id"])],
    "expected_alerts": [("ix_expected_alerts_outbox_id", ["outbox_id"])],
    "handovers": [("ix_handovers_archive_id", ["archive_id"])],
}

_CATEGORIES = ("directive", "decision", "change_notice", "risk", "incident", "meeting_minutes",
               "report", "work_contact", "inquiry", "general")
_URGENCIES = ("normal", "urgent")
CHECKS: dict[str, list[tuple[str, str, Sequence[str]]]] = {
    "messages": [("state", "state", ("received", "processed", "quarantined", "discarded"))],
    "records": [("category", "category", _CATEGORIES),
                ("group", "stakeholder_group", ("customer", "leadership", "internal",
                                                "procurement", "quality", "hr", "other")),
                ("formality", "formality", ("formal_written", "written", "formal_oral",
                                            "informal_oral")),
                ("urgency", "urgency", _URGENCIES)],
    "receipts": [("status", "status", ("pending", "read", "confirmed", "questioned",
                                       "declined", "withdrawn", "waived"))],
    "receipt_requests": [("urgency", "urgency", _URGENCIES)],
    "outbox": [("state", "state", ("queued", "sending", "retry", "sent", "failed"))],
    "outbox_recipients": [("state", "state", ("pending", "sent", "failed", "suppressed",
                                              "limited", "bounced"))],
    "connector_deliveries": [("state", "state", ("pending", "sending", "sent", "failed"))],
    "report_runs": [("state", "state", ("draft", "sent", "skipped"))],
    "archive_exports": [("kind", "kind", ("manual", "periodic", "handover"))],
}

# SQLite drops a table's triggers with it: record_search's FTS5 triggers (0001) come back.
_FTS_COLS = "subject, body, attachments"
_NEW = "new.record_id, new.subject, new.body, new.attachments"
_OLD = "old.record_id, old.subject, old.body, old.attachments"
SQLITE_SEARCH_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS record_search_ai AFTER INSERT ON record_search BEGIN "
    f"INSERT INTO record_search_fts(rowid, {_FTS_COLS}) VALUES ({_NEW}); END",
    "CREATE TRIGGER IF NOT EXISTS record_search_ad AFTER DELETE ON record_search BEGIN "
    f"INSERT INTO record_search_fts(record_search_fts, rowid, {_FTS_COLS}) "
    f"VALUES ('delete', {_OLD}); END",
    "CREATE TRIGGER IF NOT EXISTS record_search_au AFTER UPDATE ON record_search BEGIN "
    f"INSERT INTO record_search_fts(record_search_fts, rowid, {_FTS_COLS}) "
    f"VALUES ('delete', {_OLD}); "
    f"INSERT INTO record_search_fts(rowid, {_FTS_COLS}) VALUES ({_NEW}); END",
    "INSERT INTO record_search_fts(record_search_fts) VALUES ('rebuild')",
)


def _fk_name(table: str, column: str, referred: str) -> str:
    return f"fk_{table}_{column}_{referred}"


def _one_of(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _tables() -> list[str]:
    return list(dict.fromkeys([*FOREIGN_KEYS, *INDEXES, *CHECKS]))


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in _tables():
        with op.batch_alter_table(table, recreate="always" if sqlite else "auto") as batch:
            for column, referred, rule in FOREIGN_KEYS.get(table, []):
                name = _fk_name(table, column, referred)
                batch.drop_constraint(batch.f(name), type_="foreignkey")
                batch.create_foreign_key(batch.f(name), referred, [column], ["id"],
                                         ondelete=rule)
            for name, columns in INDEXES.get(table, []):
                batch.create_index(name, columns, unique=False)
            for suffix, column, values in CHECKS.get(table, []):
                batch.create_check_constraint(batch.f(f"ck_{table}_{suffix}"),
                                              sa.text(_one_of(column, values)))
    if sqlite:
        _restore_sqlite_search()


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in reversed(_tables()):
        with op.batch_alter_table(table, recreate="always" if sqlite else "auto") as batch:
            for suffix, _column, _values in CHECKS.get(table, []):
                batch.drop_constraint(batch.f(f"ck_{table}_{suffix}"), type_="check")
            for name, _columns in INDEXES.get(table, []):
                batch.drop_index(name)
            for column, referred, _rule in FOREIGN_KEYS.get(table, []):
                name = _fk_name(table, column, referred)
                batch.drop_constraint(batch.f(name), type_="foreignkey")
                batch.create_foreign_key(
                    batch.f(name), referred, [column], ["id"],
                    ondelete="CASCADE" if (table, column) in OLD_CASCADES else None)
    if sqlite:
        _restore_sqlite_search()


def _restore_sqlite_search() -> None:
    bind = op.get_bind()
    if not sa.inspect(bind).has_table("record_search_fts"):
        return
    for statement in SQLITE_SEARCH_TRIGGERS:
        op.execute(statement)
