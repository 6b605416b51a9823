"""Corrections to records: merge two records, split messages off one — whole, in one transaction.

Threading folds records together when References prove two threads are one (the record stage
calls :func:`merge_records`); a project manager does the same by hand and splits mail that went
into the wrong thread (``commgate threads merge|split``, gateway/cli/threads.py).
Either way everything that hangs on a record moves with it: messages, receipt requests and
receipts, outbox rows, connector deliveries, attachments, the search row and the history. The
schema's RESTRICT rules (migration 0003) make a forgotten one fail loudly instead of dangling.

Invariants kept: every message is in exactly one record, no record is empty, every receipt
belongs to the record of its message. Each correction is one audit event. Nothing commits here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.audit.chain import record_event
from gateway.audit.state import record_state
from gateway.config.settings import ProjectConfig
from gateway.errors import RecordEditError
from gateway.identity import normalize_message_id
from gateway.records.rebuild import RawLoader, mail_conclusion, read, rebuild
from gateway.records.search import has_table, index_record
from gateway.records.store import set_conclusion, strengthen
from gateway.store.audit_models import AuditEvent, ConnectorDelivery
from gateway.store.models import Message, Receipt, Record
from gateway.store.notify_models import OutboxMail
from gateway.store.receipt_models import ReceiptRequest
from gateway.store.search_models import RecordAttachment, RecordSearch
from gateway.thread.assign import merge_threads, split_thread

log = logging.getLogger(__name__)

__all__ = ["current_record", "merge_by_hand", "merge_records",
           "record_thread_lookup", "split_messages"]


def _messages(session: Session, record_id: int) -> list[Message]:
    return list(session.scalars(select(Message).where(Message.record_id == record_id)
                                .order_by(Message.received_at, Message.id)))


def _deliveries(session: Session, keep: Record, other: Record) -> list[dict[str, Any]]:
    """Move ``other``'s connector deliveries to ``keep``; where ``keep`` already has one for that
    connector (one per record and connector), the other's row is dropped and returned."""
    have = set(session.scalars(select(ConnectorDelivery.connector)
                               .where(ConnectorDelivery.record_id == keep.id)))
    dropped: list[dict[str, Any]] = []
    for row in session.scalars(select(ConnectorDelivery)
                               .where(ConnectorDelivery.record_id == other.id)):
        if row.connector in have:
            dropped.append({"id": row.id, "connector": row.connector, "state": row.state,
                            "idempotency_key": row.idempotency_key})
            session.delete(row)
        else:
            row.record_id = keep.id
    session.flush()
    return dropped


def merge_records(session: Session, *, keep: Record, other: Record, actor: str,
                  now: datetime, audit_keep: bool = True) -> dict[str, Any]:
    """Fold ``other`` into ``keep`` and delete ``other``; return what moved (also audited).

    The threads are the caller's business (the pipeline has merged them already; the CLI
    merges them first): messages take ``keep``'s thread here. The chain records ``other`` as
    gone and, unless ``audit_keep`` is off (the record stage records ``keep``'s new state
    itself, once, with the rest of its changes), ``keep``'s new state.
    """
    if keep.id == other.id:
        raise RecordEditError("a record cannot be merged into itself")
    if keep.project_id != other.project_id:
        raise RecordEditError(f"records {keep.id} and {other.id} are in different projects")
    other_id, other_state, keep_before = other.id, record_state(other), record_state(keep)
    moved: dict[str, Any] = {}

    def move(name: str, model: Any, column: Any, **values: Any) -> None:
        result = session.execute(update(model).where(column == other.id)
                                 .values(record_id=keep.id, **values))
        moved[name] = result.rowcount  # type: ignore[attr-defined]

    move("messages", Message, Message.record_id, thread_id=keep.thread_id)
    move("receipts", Receipt, Receipt.record_id)
    move("receipt_requests", ReceiptRequest, ReceiptRequest.record_id)
    move("outbox", OutboxMail, OutboxMail.record_id)
    if has_table(session, RecordAttachment.__tablename__):
        move("attachments", RecordAttachment, RecordAttachment.record_id)
    dropped = _deliveries(session, keep, other)
    if has_table(session, RecordSearch.__tablename__):
        session.execute(delete(RecordSearch).where(RecordSearch.record_id == other.id))
    keep.history = keep.history + [{"event": "merged", "merged_record": other.id,
                                    "subject": other.subject, "category": other.category,
                                    "by": actor, "at": now.isoformat()}] + other.history
    if other.conclusion and not keep.conclusion:
        keep.conclusion = other.conclusion
    strengthen(keep, group=other.stakeholder_group, formality=other.formality,
               urgency=other.urgency, receipt_required=other.receipt_required)
    known = {party["address"] for party in keep.parties}
    keep.parties = keep.parties + [p for p in other.parties if p["address"] not in known]
    if other.created_at < keep.created_at:
        keep.created_at, keep.subject, keep.summary = (other.created_at, other.subject,
                                                       other.summary)
    keep.updated_at = now
    session.flush()
    keep.message_count = session.scalar(
        select(func.count()).select_from(Message).where(Message.record_id == keep.id)) or 0
    session.expire(other, ["receipts"])  # moved above: the ORM must not null them out
    session.delete(other)
    session.flush()
    index_record(session, keep, now=now)
    after = {"into": keep.id, "thread": keep.thread_id, "moved": moved,
             **({"dropped_deliveries": dropped} if dropped else {})}
    record_event(session, project_id=keep.project_id, actor=actor, action="record.merged",
                 subject_type="record", subject_id=other.id,
                 before={"record": other.id, "thread": other.thread_id,
                         "category": other.category, "subject": other.subject},
                 after=after, now=now)
    audit.record(session, keep.project_id, "record.merged_away", ("record", other_id), None,
                 actor=actor, now=now, before=other_state, detail={"into": keep.id})
    if audit_keep:
        audit.record(session, keep.project_id, "record.merge_kept", keep, actor=actor, now=now,
                     before=keep_before, detail={"merged_record": other_id})
    log.info("record %s merged into record %s by %s: %s", other_id, keep.id, actor, moved)
    return after


def merge_by_hand(session: Session, *, project_id: int, keep_record: int, absorb_record: int,
          actor: str, now: datetime) -> Record:
    """A person folds record ``absorb_record`` and its thread into ``keep_record``."""
    keep = session.get(Record, keep_record, with_for_update=True)
    other = session.get(Record, absorb_record, with_for_update=True)
    for rid, rec in ((keep_record, keep), (absorb_record, other)):
        if rec is None or rec.project_id != project_id:
            raise RecordEditError(f"no record {rid} in this project")
    assert keep is not None and other is not None
    if keep.id == other.id:
        raise RecordEditError("a record cannot be merged into itself")
    try:
        merge_threads(session, project_id=project_id, keep=keep.thread_id,
                      absorb=other.thread_id)
    except ValueError as exc:
        raise RecordEditError(str(exc)) from None
    absorbed_thread = other.thread_id
    merge_records(session, keep=keep, other=other, actor=actor, now=now)
    record_event(session, project_id=project_id, actor=actor, action="thread.merged",
                 subject_type="record", subject_id=keep.id,
                 before={"records": [keep.id, absorb_record], "threads": [keep.thread_id,
                                                                          absorbed_thread]},
                 after={"record": keep.id, "thread": keep.thread_id}, now=now)
    return keep


def current_record(session: Session, project_id: int, record_id: int) -> Record | None:
    """Record ``record_id``, or the record it was merged into (a record code in an old
    subject keeps working after a merge)."""
    seen: set[int] = set()
    while record_id not in seen:
        seen.add(record_id)
        record = session.get(Record, record_id)
        if record is not None:
            return record if record.project_id == project_id else None
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.project_id == project_id,
                                     AuditEvent.subject_type == "record",
                                     AuditEvent.subject_id == str(record_id),
                                     AuditEvent.action == "record.merged")
            .order_by(AuditEvent.seq.desc()).limit(1)).first()
        into = event.after.get("into") if event is not None and isinstance(event.after,
                                                                             dict) else None
        if not isinstance(into, int):
            return None
        record_id = into
    return None


def record_thread_lookup(session: Session, project_id: int) -> Callable[[int], int | None]:
    """For the threading stage: a record code (``[demo#R42]``) → that record's thread."""

    def lookup(code: int) -> int | None:
        record = current_record(session, project_id, code)
        return record.thread_id if record is not None else None

    return lookup


def split_messages(session: Session, *, project: ProjectConfig, project_id: int,
                   message_ids: list[str], actor: str, now: datetime,
                   raw: RawLoader | None) -> tuple[Record, Record]:
    """Move the named messages (with their receipts, requests, outbox rows and attachments) to
    a new thread and a new record; rebuild both records from their own messages.

    Refused: unknown Message-IDs, messages of several records, and a split that would leave
    the record empty (which includes splitting a message that is alone in its record).
    Returns (the old record, the new record).
    """
    ids = sorted({normalize_message_id(mid) for mid in message_ids if mid.strip()})
    if not ids:
        raise RecordEditError("no Message-ID given")
    moving = list(session.scalars(select(Message).where(Message.project_id == project_id,
                                                        Message.message_id.in_(ids))
                                  .order_by(Message.received_at, Message.id)))
    missing = sorted(set(ids) - {m.message_id for m in moving})
    if missing:
        raise RecordEditError(f"unknown Message-IDs: {missing}")
    records = {m.record_id for m in moving}
    if None in records:
        raise RecordEditError("some of these messages have no record (quarantined or "
                              "discarded): replay them first")
    if len(records) != 1:
        raise RecordEditError(f"the messages belong to more than one record: "
                              f"{sorted(r for r in records if r is not None)}")
    old = session.get(Record, records.pop(), with_for_update=True)
    assert old is not None
    old_before = record_state(old)
    staying = [m for m in _messages(session, old.id) if m.message_id not in set(ids)]
    if not staying:
        what = ("it is the only message of" if len(moving) == 1
                else "these are all the messages of")
        raise RecordEditError(f"nothing to split: {what} record {old.id}",
                              hint="a split must leave messages in both records")
    try:
        new_thread = split_thread(session, project_id=project_id, message_ids=ids, now=now)
    except ValueError as exc:
        raise RecordEditError(str(exc)) from None
    record = Record(project_id=project_id, thread_id=new_thread, subject=moving[0].subject,
                    history=[], parties=[], reasons=[], created_at=now, updated_at=now)
    session.add(record)
    session.flush()
    pks = [m.id for m in moving]
    session.execute(update(Message).where(Message.id.in_(pks))
                    .values(record_id=record.id, thread_id=new_thread))
    moved_receipts = list(session.scalars(select(Receipt.id).where(Receipt.message_pk.in_(pks))))
    session.execute(update(Receipt).where(Receipt.message_pk.in_(pks))
                    .values(record_id=record.id))
    session.execute(update(ReceiptRequest).where(ReceiptRequest.message_pk.in_(pks))
                    .values(record_id=record.id))
    for mail in session.scalars(select(OutboxMail).where(OutboxMail.record_id == old.id)):
        if (mail.receipt_id in moved_receipts
                or normalize_message_id(mail.message_id) in set(ids)):
            mail.record_id = record.id
    if has_table(session, RecordAttachment.__tablename__):
        session.execute(update(RecordAttachment).where(RecordAttachment.message_pk.in_(pks))
                        .values(record_id=record.id))
    session.expire_all()
    old = session.get_one(Record, old.id)
    before = {"record": old.id, "category": old.category, "messages": len(staying) + len(pks)}
    _rebuild(session, old, project, actor=actor, now=now, raw=raw)
    _rebuild(session, record, project, actor=actor, now=now, raw=raw)
    old.history = old.history + [{"event": "split", "to_record": record.id, "by": actor,
                                  "at": now.isoformat(), "message_ids": ids}]
    record.history = [{"event": "split", "from_record": old.id, "by": actor,
                       "at": now.isoformat(), "message_ids": ids}]
    session.flush()
    index_record(session, old, now=now)
    index_record(session, record, now=now)
    record_event(session, project_id=project_id, actor=actor, action="thread.split",
                 subject_type="record", subject_id=old.id, before=before,
                 after={"record": old.id, "category": old.category,
                        "new_record": record.id, "new_category": record.category,
                        "thread": new_thread, "message_ids": ids,
                        "receipts": len(moved_receipts)}, now=now)
    audit.record(session, project_id, "record.split", old, actor=actor, now=now,
                 before=old_before, detail={"new_record": record.id, "message_ids": ids})
    audit.record(session, project_id, "record.created", record, actor=actor, now=now,
                 detail={"split_from": old.id, "message_ids": ids})
    log.info("%d message(s) of record %s split off into record %s by %s", len(pks), old.id,
             record.id, actor)
    return old, record


def _rebuild(session: Session, record: Record, project: ProjectConfig, *, actor: str,
             now: datetime, raw: RawLoader | None) -> None:
    readings = [read(m, project, raw) for m in _messages(session, record.id)]
    rebuild(record, readings, project, now=now)
    found = mail_conclusion(readings)
    last = next((e for e in reversed(record.history)
                 if isinstance(e, dict) and e.get("event") == "conclusion"), None)
    by_person = last is not None and last.get("source") != "mail" and record.conclusion
    if by_person:
        return  # a person's conclusion stays with the record it was given to
    if found is None:
        record.conclusion = None
    elif found[0] != record.conclusion:
        set_conclusion(record, found[0], by=found[1].from_addr or "", source="mail", at=now,
                       message_id=found[1].message_id)
