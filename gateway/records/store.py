"""The record stage: a thread's communication record, opened by its first message and kept current.

A new thread opens a record; replies join it. When a later message changes what the record is
(e.g. a discussion reaches a decision), the record takes the stronger classification and keeps
the earlier one in ``history``. When threading merges two threads, their records merge too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.store.models import Message, Receipt, Record

if TYPE_CHECKING:
    from gateway.pipeline import Context

# Policy 3.3 precedence: the most important outside party names the record's group.
GROUP_ORDER = ("customer", "leadership", "procurement", "quality", "hr", "other", "internal")
# Categories that say less than others: a reply classified so does not change the record.
WEAK_CATEGORIES = ("general", "inquiry")
FORMALITY_ORDER = ("formal_written", "formal_oral", "written", "informal_oral")
SUMMARY_LINES = 3
SUMMARY_CHARS = 300


def summarize(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:SUMMARY_LINES])[:SUMMARY_CHARS]


def _stronger(order: tuple[str, ...], a: str, b: str) -> str:
    rank = {name: i for i, name in enumerate(order)}
    return a if rank.get(a, len(order)) <= rank.get(b, len(order)) else b


def _parties(ctx: Context) -> list[dict[str, Any]]:
    p = ctx.parsed
    people: list[tuple[str, str | None]] = [(p.from_name, p.from_addr)]
    people += list(p.to) + list(p.cc)
    out = []
    for name, addr in people:
        if addr and addr != ctx.project.address and not addr.startswith(
                ctx.project.address.split("@")[0] + "+"):
            out.append({"name": name, "address": addr})
    return out


def attach_to_record(ctx: Context) -> Record:
    assert ctx.thread_id is not None
    session = ctx.session
    c = ctx.classification
    record = session.scalars(select(Record).where(Record.thread_id == ctx.thread_id)
                             .with_for_update()).one_or_none()
    now = ctx.app.clock()
    reasons = [r.as_dict() if hasattr(r, "as_dict") else str(r) for r in c.reasons]
    if record is None:
        record = Record(project_id=ctx.message.project_id, thread_id=ctx.thread_id,
                        subject=ctx.parsed.subject, category=c.category,
                        stakeholder_group=c.stakeholder_group, formality=c.formality,
                        urgency=c.urgency, receipt_required=c.receipt_required,
                        summary=summarize(ctx.parsed.own_text or ctx.parsed.text),
                        parties=[], reasons=reasons, history=[], message_count=0,
                        created_at=ctx.parsed.date or now, updated_at=now)
        session.add(record)
        session.flush()
    else:
        _update(record, c, reasons, ctx.message.message_id)
    for absorbed in ctx.merged_threads:
        _absorb(session, record, absorbed)
    known = {party["address"] for party in record.parties}
    record.parties = record.parties + [p for p in _parties(ctx) if p["address"] not in known]
    record.message_count += 1
    record.updated_at = now
    ctx.message.record_id = record.id
    return record


def _update(record: Record, c: Any, reasons: list[Any], message_id: str) -> None:
    if c.category not in WEAK_CATEGORIES and c.category != record.category:
        record.history = record.history + [{"category": record.category,
                                            "reasons": record.reasons,
                                            "changed_by": message_id}]
        record.category = c.category
        record.reasons = reasons
    record.stakeholder_group = _stronger(GROUP_ORDER, record.stakeholder_group,
                                         c.stakeholder_group)
    record.formality = _stronger(FORMALITY_ORDER, record.formality, c.formality)
    if c.urgency == "urgent":
        record.urgency = "urgent"
    record.receipt_required = record.receipt_required or c.receipt_required


def _absorb(session: Session, keep: Record, thread_id: int) -> None:
    """Threading proved two threads are one: fold the other thread's record into ``keep``."""
    other = session.scalars(select(Record).where(Record.thread_id == thread_id)).one_or_none()
    if other is None or other.id == keep.id:
        return
    session.execute(update(Message).where(Message.record_id == other.id)
                    .values(record_id=keep.id, thread_id=keep.thread_id))
    session.execute(update(Receipt).where(Receipt.record_id == other.id)
                    .values(record_id=keep.id))
    keep.history = keep.history + [{"merged_record": other.id, "subject": other.subject,
                                    "category": other.category}] + other.history
    keep.conclusion = keep.conclusion or other.conclusion
    keep.message_count += other.message_count
    keep.stakeholder_group = _stronger(GROUP_ORDER, keep.stakeholder_group,
                                       other.stakeholder_group)
    keep.receipt_required = keep.receipt_required or other.receipt_required
    known = {party["address"] for party in keep.parties}
    keep.parties = keep.parties + [p for p in other.parties if p["address"] not in known]
    if other.created_at < keep.created_at:
        keep.created_at = other.created_at
    session.delete(other)
    session.flush()
