"""The record stage: a thread's communication record, opened by its first message and kept current.

A new thread opens a record; replies join it. When a later message changes what the record is
(e.g. a discussion reaches a decision), the record takes the stronger classification and keeps
the earlier one in ``history``. When threading merges two threads, their records merge too.

Each party is kept with its stakeholder group (policy 3.3, the classification's directory
lookup), each attachment by name, and a conclusion when a message marks one — 【结论】 or
[Conclusion] in the subject, or a line of its own text starting 结论：/Conclusion: — or a project
manager sets it (``records conclude``). Policy 4.4: informal communications that reached a
conclusion are records too, so a conclusion is kept whatever the record's formality. Finally the
record's search row is rewritten (gateway/records/search.py).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.addresses import person_key
from gateway.audit import chain as audit
from gateway.audit.state import record_state
from gateway.classify.group import party_group
from gateway.classify.model import Classification
from gateway.config.people import person_name
from gateway.config.settings import ProjectConfig
from gateway.parse import ParsedMessage
from gateway.records.search import has_table, index_record
from gateway.store.models import Message, Record
from gateway.store.search_models import RecordAttachment


class Merge(Protocol):
    """Folds ``other`` into ``keep``: gateway.records.edit.merge_records, passed in by the
    record stage (edit builds on this module, so this module cannot import it)."""

    def __call__(self, session: Session, *, keep: Record, other: Record, actor: str,
                 now: datetime, audit_keep: bool = ...) -> object: ...

# Policy 3.3 precedence: the most important outside party names the record's group.
GROUP_ORDER = ("customer", "leadership", "procurement", "quality", "hr", "other", "internal")
# Categories that say less than others: a reply classified so does not change the record.
WEAK_CATEGORIES = ("general", "inquiry")
FORMALITY_ORDER = ("formal_written", "formal_oral", "written", "informal_oral")
SUMMARY_LINES = 3
SUMMARY_CHARS = 300
CONCLUSION_CHARS = 2000

# A reply's subject repeats the original's marker: it is judged on its own text (as classify
# does with category markers).
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|fw|fwd|aw|sv|回复|答复|转发)\s*[:：]\s*)+", re.I)
_SUBJECT_MARK = re.compile(r"【\s*结论\s*】|\[\s*conclusion\s*\]|［\s*结论\s*］|\[\s*结论\s*\]",
                           re.I)
_TEXT_MARK = re.compile(r"^[ \t]*(?:【\s*结论\s*】|\[\s*conclusion\s*\]|结论\s*[:：]|"
                        r"conclusion\s*[:：])[ \t]*(.*)$", re.I | re.M)


def summarize(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "\n".join(lines[:SUMMARY_LINES])[:SUMMARY_CHARS]


def find_conclusion(subject: str, own_text: str) -> str | None:
    """The conclusion a message states, or None (see the module docstring for the markers)."""
    found = _TEXT_MARK.search(own_text)
    if found:
        # The marked line and the rest of its paragraph (up to the first blank line).
        lines = [found.group(1).strip()]
        for line in own_text[found.end():].splitlines()[1:]:
            if not line.strip():
                break
            lines.append(line.strip())
        text = "\n".join(line for line in lines if line)
        if text:
            return text[:CONCLUSION_CHARS]
    if _REPLY_PREFIX.match(subject) or not _SUBJECT_MARK.search(subject):
        return None
    body = "\n".join(line.strip() for line in own_text.splitlines() if line.strip())
    return (body or _SUBJECT_MARK.sub("", subject).strip())[:CONCLUSION_CHARS] or None


def set_conclusion(record: Record, text: str, *, by: str, source: str, at: datetime,
                   message_id: str | None = None) -> None:
    """Record ``text`` as the conclusion; the change (and who made it) goes to the history."""
    event: dict[str, Any] = {"event": "conclusion", "conclusion": text, "by": by,
                             "source": source, "at": at.isoformat()}
    if message_id:
        event["message_id"] = message_id
    if record.conclusion and record.conclusion != text:
        event["previous"] = record.conclusion
    record.history = record.history + [event]
    record.conclusion = text
    record.updated_at = at


def _stronger(order: tuple[str, ...], a: str, b: str) -> str:
    rank = {name: i for i, name in enumerate(order)}
    return a if rank.get(a, len(order)) <= rank.get(b, len(order)) else b


def parties_with_groups(people: list[tuple[str, str, str | None]],
                        project: ProjectConfig) -> list[dict[str, Any]]:
    """(role, name, address) → party dicts with their stakeholder group; gateway addresses out."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for role, name, addr in people:
        if not addr or person_key(addr) in seen:
            continue
        seen.add(person_key(addr))
        found = party_group(person_key(addr), role, project)
        if found is None:
            continue  # the gateway's own addresses
        out.append({"name": person_name(project, addr, name), "address": addr,
                    "group": found[0], "role": role})
    return out


def named_parties(project: ProjectConfig, parties: list[Any]) -> list[dict[str, Any]]:
    """Stored parties with the name the project file gives each (also for records stored
    before names were filled in at intake)."""
    return [{**p, "name": person_name(project, str(p.get("address") or ""),
                                      str(p.get("name") or ""))}
            for p in parties if isinstance(p, dict)]


def _parties(parsed: ParsedMessage, project: ProjectConfig) -> list[dict[str, Any]]:
    people: list[tuple[str, str, str | None]] = [("from", parsed.from_name, parsed.from_addr)]
    people += [("to", n, a) for n, a in parsed.to] + [("cc", n, a) for n, a in parsed.cc]
    return parties_with_groups(people, project)


def _attachments(session: Session, message: Message, parsed: ParsedMessage,
                 record: Record) -> None:
    if not has_table(session, RecordAttachment.__tablename__):
        return
    known = set(session.scalars(select(RecordAttachment.position)
                                .where(RecordAttachment.message_pk == message.id)))
    for position, part in enumerate(parsed.attachments):
        if part.filename and position not in known:  # unnamed inline parts are no attachments
            session.add(RecordAttachment(
                record_id=record.id, message_pk=message.id, position=position,
                filename=part.filename[:512], content_type=part.content_type[:255],
                size=part.size))


def attach_automated(session: Session, *, message: Message,
                     thread_id: int | None) -> Record | None:
    """Link automated mail to the record its thread already has (None: there is none).

    The message is kept and counted in the record, but it opens no record, changes no
    classification, party list or conclusion."""
    if thread_id is None:
        return None
    record = session.scalars(select(Record).where(Record.thread_id == thread_id)
                             .with_for_update()).one_or_none()
    if record is None:
        return None
    message.record_id = record.id
    session.flush()
    record.message_count = session.scalar(
        select(func.count()).select_from(Message).where(Message.record_id == record.id)) or 0
    return record


def attach_to_record(session: Session, project: ProjectConfig, *, message: Message,
                     parsed: ParsedMessage, classification: Classification,
                     thread_id: int | None, merged_threads: list[int], merge: Merge,
                     now: datetime) -> Record:
    """Open the thread's record or fold this message into it (see the module docstring);
    ``merge`` folds the record of each thread in ``merged_threads`` into it."""
    assert thread_id is not None
    c = classification
    record = session.scalars(select(Record).where(Record.thread_id == thread_id)
                             .with_for_update()).one_or_none()
    reasons = [r.as_dict() for r in c.reasons]
    events: list[tuple[str, dict[str, Any]]] = []  # (action, detail) for the audit trail
    before_state = None if record is None else record_state(record)
    if record is None:
        record = Record(project_id=message.project_id, thread_id=thread_id,
                        subject=parsed.subject, category=c.category,
                        stakeholder_group=c.stakeholder_group, formality=c.formality,
                        urgency=c.urgency, receipt_required=c.receipt_required,
                        summary=summarize(parsed.own_text or parsed.text),
                        parties=[], reasons=reasons, history=[], message_count=0,
                        created_at=parsed.date or now, updated_at=now)
        session.add(record)
        session.flush()
        events.append(("record.created", _classification(record)))
    else:
        before = _classification(record)
        _update(record, c, reasons, message.message_id, now)
        if record.category != before["category"]:
            events.append(("record.reclassified", {**_classification(record), "was": before}))
    for absorbed in merged_threads:  # References proved two threads are one
        other = session.scalars(select(Record).where(Record.thread_id == absorbed)
                                .with_for_update()).one_or_none()
        if other is not None and other.id != record.id:
            other_id = other.id
            # records the absorbed record as gone; this record's state is recorded below
            merge(session, keep=record, other=other, actor="system:pipeline", now=now,
                  audit_keep=False)
            events.append(("record.merged", {"thread": absorbed, "merged_record": other_id,
                                             "record": record.id}))
    known = {party["address"] for party in record.parties}
    record.parties = record.parties + [p for p in _parties(parsed, project)
                                       if p["address"] not in known]
    record.updated_at = now
    message.record_id = record.id
    session.flush()
    # Counted, not incremented: a replayed message must not count twice.
    record.message_count = session.scalar(
        select(func.count()).select_from(Message).where(Message.record_id == record.id)) or 0
    conclusion = find_conclusion(parsed.subject, parsed.own_text or "")
    if conclusion:
        before_conclusion = record.conclusion
        set_conclusion(record, conclusion, by=parsed.from_addr or "", source="mail", at=now,
                       message_id=message.message_id)
        events.append(("record.concluded", {"conclusion": conclusion,
                                            "previous": before_conclusion,
                                            "by": parsed.from_addr}))
    _attachments(session, message, parsed, record)
    index_record(session, record, now=now)
    state = record_state(record)
    if not events and state != before_state:  # e.g. a reply that made it urgent
        events.append(("record.updated", _classification(record)))
    for i, (action, detail) in enumerate(events):
        audit.record(session, record.project_id, action, record, state,
                     actor="system:pipeline", now=now,
                     before=before_state if i == 0 and before_state is not None
                     else audit.NOT_GIVEN,
                     detail={**detail, "message_id": message.message_id})
    return record


def _classification(record: Record) -> dict[str, Any]:
    return {"category": record.category, "stakeholder_group": record.stakeholder_group,
            "formality": record.formality, "urgency": record.urgency,
            "receipt_required": record.receipt_required}


def _update(record: Record, c: Classification, reasons: list[Any], message_id: str,
            now: datetime) -> None:
    before = {"category": record.category, "reasons": record.reasons}
    if apply_classification(record, c, reasons):
        record.history = record.history + [{"event": "category", "category": before["category"],
                                            "reasons": before["reasons"],
                                            "changed_by": message_id, "to": c.category,
                                            "at": now.isoformat()}]


def apply_classification(record: Record, c: Classification, reasons: list[Any]) -> bool:
    """Fold one more message's classification into the record (the one rule, used by the
    record stage and by rebuilds after a split); True when the category changed."""
    changed = c.category not in WEAK_CATEGORIES and c.category != record.category
    if changed:
        record.category = c.category
        record.reasons = reasons
    strengthen(record, group=c.stakeholder_group, formality=c.formality, urgency=c.urgency,
               receipt_required=c.receipt_required)
    return changed


def strengthen(record: Record, *, group: str, formality: str, urgency: str,
               receipt_required: bool) -> None:
    """What a record keeps of another message or record: the stronger stakeholder group and
    formality, urgent if either is, a receipt required if either requires one."""
    record.stakeholder_group = _stronger(GROUP_ORDER, record.stakeholder_group, group)
    record.formality = _stronger(FORMALITY_ORDER, record.formality, formality)
    if urgency == "urgent":
        record.urgency = "urgent"
    record.receipt_required = record.receipt_required or receipt_required
