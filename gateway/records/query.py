"""Reading records back: filters for ``records list``, and the export shape scripts rely on.

The JSON field names in :func:`record_view` are public interface (``records export``); add
fields freely, never rename one. :func:`record_details` adds what ``records show``, the key
communication record form and the export read besides: the record's messages, attachments and
compliance findings (computed as of ``now`` by gateway/classify/findings.py from the stored raw
mail, so they are never stale).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from gateway.classify.facts import facts_from_bytes
from gateway.classify.findings import findings
from gateway.classify.model import MessageFacts, ThreadEntry
from gateway.config.settings import ProjectConfig
from gateway.errors import GatewayError
from gateway.records.localtime import local_iso, localize_iso_text
from gateway.records.search import has_table
from gateway.store.models import Message, Project, Receipt, Record
from gateway.store.search_models import RecordAttachment


@dataclass(frozen=True)
class RecordFilter:
    """What ``records list`` and the search narrow the records to (``None``: any)."""

    project: str
    category: str | None = None
    group: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    unconfirmed: bool = False
    limit: int | None = None
    record_id: int | None = None
    concluded: bool | None = None  # True: with a conclusion; False: without


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
    if f.record_id is not None:
        q = q.where(Record.id == f.record_id)
    if f.concluded is not None:
        q = q.where(Record.conclusion.is_not(None) if f.concluded else Record.conclusion.is_(None))
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


def _last_conclusion(record: Record) -> dict[str, Any]:
    events = [e for e in record.history
              if isinstance(e, dict) and e.get("event") == "conclusion"]
    return events[-1] if events and record.conclusion else {}


def _history(entries: Any, zone: ZoneInfo | None) -> Any:
    if zone is None or not isinstance(entries, list):
        return entries
    return [{k: (localize_iso_text(v, zone) if k in ("at", "deadline") else v)
             for k, v in e.items()} if isinstance(e, dict) else e for e in entries]


def record_view(record: Record, project: str, message_ids: list[str],
                zone: ZoneInfo | None = None) -> dict[str, Any]:
    """The public view of one record; times in ``zone`` (the project's) with their offset."""
    concluded = _last_conclusion(record)
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
                      "deadline": local_iso(r.deadline, zone),
                      "level": r.level} for r in record.receipts],
        "message_ids": message_ids,
        "summary": record.summary,
        "conclusion": record.conclusion,
        "parties": record.parties,
        "message_count": record.message_count,
        "reasons": record.reasons,
        "history": _history(record.history, zone),
        "created_at": local_iso(record.created_at, zone),
        "updated_at": local_iso(record.updated_at, zone),
        "conclusion_by": concluded.get("by"),
        "conclusion_at": localize_iso_text(concluded.get("at"), zone),
        "conclusion_source": concluded.get("source"),
        # Policy 4.4: formal communication, and informal communication that reached a
        # conclusion, needs an output confirmed by the parties.
        "needs_output": (record.formality in ("formal_written", "formal_oral")
                         or record.conclusion is not None),
    }


def record_views(session: Session, f: RecordFilter,
                 zone: ZoneInfo | None = None) -> list[dict[str, Any]]:
    records = find_records(session, f)
    ids = message_ids_by_record(session, [r.id for r in records])
    names = attachment_names(session, [r.id for r in records])
    return [{**record_view(r, f.project, ids.get(r.id, []), zone),
             "attachments": names.get(r.id, [])} for r in records]


RawLoader = Callable[[str], bytes]  # sha256 → raw bytes (App.raw.get)


def _messages(session: Session, record_id: int) -> Sequence[Message]:
    return session.scalars(select(Message).where(Message.record_id == record_id)
                           .order_by(Message.received_at, Message.id)).all()


def record_findings(messages: Sequence[Message], project: ProjectConfig, *, now: datetime,
                    raw: RawLoader | None) -> list[dict[str, Any]]:
    """Compliance findings of a record's thread, from the raw mail when it can be read."""

    entries = []
    for m in messages:
        facts = None
        if raw is not None:
            try:
                facts = facts_from_bytes(raw(m.sha256))
            except (GatewayError, OSError):
                facts = None  # missing or unparsable raw mail: use what the parse stage stored
        if facts is None:
            facts = MessageFacts(subject=m.subject, sender=m.from_addr or "",
                                 to=tuple(m.to_addrs), cc=tuple(m.cc_addrs),
                                 own_text=m.own_text)
        entries.append(ThreadEntry(facts=facts, at=m.sent_at or m.received_at))
    return [f.as_dict() for f in findings(entries, project, now=now)]


def record_details(session: Session, record_id: int, project: ProjectConfig, *,
                   now: datetime, raw: RawLoader | None = None) -> dict[str, Any]:
    """Messages, attachments and findings of one record (added to its view by callers)."""
    messages = _messages(session, record_id)
    attachments: list[dict[str, Any]] = []
    if has_table(session, RecordAttachment.__tablename__):
        by_pk = {m.id: m.message_id for m in messages}
        attachments = [{"filename": a.filename, "content_type": a.content_type,
                        "size": a.size, "message_id": by_pk.get(a.message_pk)}
                       for a in session.scalars(select(RecordAttachment)
                                                .where(RecordAttachment.record_id == record_id)
                                                .order_by(RecordAttachment.id))]
    return {
        "attachment_files": attachments,
        "messages": [{"message_id": m.message_id, "from": m.from_addr, "from_name": m.from_name,
                      "subject": m.subject,
                      "sent_at": local_iso(m.sent_at or m.received_at, project.zone)}
                     for m in messages],
        "findings": record_findings(messages, project, now=now, raw=raw),
    }


def attachment_names(session: Session, record_ids: Sequence[int]) -> dict[int, list[str]]:
    """Attachment names per record, for list views and the CSV export."""
    out: dict[int, list[str]] = defaultdict(list)
    if not record_ids or not has_table(session, RecordAttachment.__tablename__):
        return out
    for rid, name in session.execute(select(RecordAttachment.record_id, RecordAttachment.filename)
                                     .where(RecordAttachment.record_id.in_(record_ids))
                                     .order_by(RecordAttachment.id)):
        out[rid].append(name)
    return out
