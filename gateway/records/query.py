"""Reading records back: filters for ``records list``, and the export shape scripts rely on.

The JSON field names in :func:`record_view` are public interface (``records export``); add
fields freely, never rename one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from gateway.store.models import Message, Project, Receipt, Record


@dataclass(frozen=True)
class RecordFilter:
    project: str
    category: str | None = None
    group: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    unconfirmed: bool = False
    limit: int | None = None


def _query(f: RecordFilter) -> Select[Record]:
    q = (select(Record).join(Project, Project.id == Record.project_id)
         .where(Project.code == f.project).options(selectinload(Record.receipts))
         .order_by(Record.created_at, Record.id))
    if f.category:
        q = q.where(Record.category == f.category)
    if f.group:
        q = q.where(Record.stakeholder_group == f.group)
    if f.since:
        q = q.where(Record.created_at >= f.since)
    if f.until:
        q = q.where(Record.created_at < f.until)
    if f.unconfirmed:
        q = q.where(Record.receipts.any(Receipt.status != "confirmed"))
    if f.limit:
        q = q.limit(f.limit)
    return q


def find_records(session: Session, f: RecordFilter) -> Sequence[Record]:
    return session.scalars(_query(f)).all()


def message_ids_by_record(session: Session, record_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = defaultdict(list)
    if not record_ids:
        return out
    rows = session.execute(select(Message.record_id, Message.message_id)
                           .where(Message.record_id.in_(record_ids))
                           .order_by(Message.received_at, Message.id))
    for record_id, message_id in rows:
        if record_id is not None:
            out[record_id].append(message_id)
    return out


def record_view(record: Record, project: str, message_ids: list[str]) -> dict[str, Any]:
    return {
        "id": record.id,
        "project": project,
        "thread_id": record.thread_id,
        "subject": record.subject,
        "category": record.category,
        "stakeholder_group": record.stakeholder_group,
        "formality": record.formality,
        "urgency": record.urgency,
        "receipt_required": record.receipt_required,
        "receipts": [{"recipient": r.recipient, "status": r.status,
                      "deadline": r.deadline.isoformat() if r.deadline else None,
                      "level": r.level} for r in record.receipts],
        "message_ids": message_ids,
        "summary": record.summary,
        "conclusion": record.conclusion,
        "parties": record.parties,
        "message_count": record.message_count,
        "reasons": record.reasons,
        "history": record.history,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }


def record_views(session: Session, f: RecordFilter) -> list[dict[str, Any]]:
    records = find_records(session, f)
    ids = message_ids_by_record(session, [r.id for r in records])
    return [record_view(r, f.project, ids.get(r.id, [])) for r in records]
