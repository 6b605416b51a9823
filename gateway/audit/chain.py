"""The audit trail: an append-only, hash-chained log per project (policy 1.3 and 4.4: traceable).

Every change to a record, receipt, notice or config-driven decision is appended with
:func:`record_event` by the stage that makes it, inside that stage's unit of work, so the event
and the change commit together. An entry's ``content_hash`` is the SHA-256 of its canonical JSON
content; its ``prev_hash`` is the SHA-256 of the previous entry's canonical JSON (content plus
both hashes). Editing any stored entry breaks its content hash; deleting one breaks the next
entry's ``prev_hash`` or the head (the chain end kept in ``audit_heads``).

Appending locks the project's head row (``SELECT … FOR UPDATE`` on PostgreSQL); on SQLite a
no-op ``UPDATE`` of that row takes the database write lock first, since SQLite serialises
writers. Either way two workers never fork the chain, and ``(project_id, seq)`` is unique as a
last line of defence. :func:`verify_chain` is pure, so the archive checks its copy the same way.

:func:`record` is the call for a change that ``audit verify`` must be able to explain: it carries
the tracked state of a message, record or receipt (gateway/audit/state.py), which the verifier
replays against the rows. Its batch form for the intake's hot path is gateway/audit/batch.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.audit.state import State, ranges, state_of, subject_of
from gateway.store.audit_models import AuditEvent, AuditHead
from gateway.store.models import Message, Receipt, Record

GENESIS = "0" * 64
CONTENT_FIELDS = ("project_id", "seq", "at", "actor", "action", "subject_type", "subject_id",
                  "before", "after")


def jsonable(value: Any) -> Any:
    """Plain JSON values for ``before``/``after``: what is hashed is exactly what is stored."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=repr)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def canonical(obj: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8 (stable across backends and Pythons)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def event_dict(event: AuditEvent) -> dict[str, Any]:
    """An entry as plain JSON: the form hashed, exported to ``audit.jsonl`` and verified."""
    at = event.at.astimezone(UTC)
    return {"id": event.id, "project_id": event.project_id, "seq": event.seq,
            "at": at.isoformat(timespec="microseconds"), "actor": event.actor,
            "action": event.action, "subject_type": event.subject_type,
            "subject_id": event.subject_id, "before": event.before, "after": event.after,
            "prev_hash": event.prev_hash, "content_hash": event.content_hash}


def content_hash(entry: dict[str, Any]) -> str:
    return sha256_hex(canonical({k: entry[k] for k in CONTENT_FIELDS}))


def entry_hash(entry: dict[str, Any]) -> str:
    """What the next entry's ``prev_hash`` must be (the row id is storage, not content)."""
    return sha256_hex(canonical({k: entry[k] for k in (*CONTENT_FIELDS, "prev_hash",
                                                       "content_hash")}))


def lock_head(session: Session, project_id: int) -> AuditHead:
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # Take SQLite's write lock before reading, so the head we read is the head we extend.
        session.execute(update(AuditHead).where(AuditHead.project_id == project_id)
                        .values(seq=AuditHead.seq))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(AuditHead).values(project_id=project_id, seq=0, hash=GENESIS)
                    .on_conflict_do_nothing(index_elements=["project_id"]))
    head = session.scalars(select(AuditHead).where(AuditHead.project_id == project_id)
                           .with_for_update().execution_options(populate_existing=True)).one()
    return head


def record_event(session: Session, *, project_id: int, actor: str, action: str,
                 subject_type: str, subject_id: str | int, before: Any = None,
                 after: Any = None, now: datetime) -> AuditEvent:
    """Append one event to the project's chain in the caller's transaction (never commits).

    ``actor``: who or what (``user:wanglei``, ``system:pipeline``, ``connector:dingtalk``);
    ``action``: dotted verb (``record.created``, ``receipt.confirmed``, ``purge``); ``before`` /
    ``after``: JSON-able snapshots of what changed.
    """
    if now.tzinfo is None:
        raise ValueError("record_event needs an aware datetime")
    head = lock_head(session, project_id)
    entry: dict[str, Any] = {
        "project_id": project_id, "seq": head.seq + 1,
        "at": now.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor[:320], "action": action[:64], "subject_type": subject_type[:32],
        "subject_id": str(subject_id)[:128], "before": jsonable(before),
        "after": jsonable(after), "prev_hash": head.hash}
    entry["content_hash"] = content_hash(entry)
    event = AuditEvent(project_id=project_id, seq=entry["seq"], at=now, actor=entry["actor"],
                       action=entry["action"], subject_type=entry["subject_type"],
                       subject_id=entry["subject_id"], before=entry["before"],
                       after=entry["after"], prev_hash=entry["prev_hash"],
                       content_hash=entry["content_hash"])
    session.add(event)
    head.seq = entry["seq"]
    head.hash = entry_hash(entry)
    head.updated_at = now
    session.flush()
    return event


class _Current:
    """``state`` not given: take it from the row."""


CURRENT: Any = _Current()
NOT_GIVEN: Any = _Current()
Subject = Message | Record | Receipt | tuple[str, int | str]


def record(session: Session, project_id: int, kind: str, subject: Subject,
           state: State | None = CURRENT, *, actor: str, now: datetime,
           before: State | None = NOT_GIVEN, detail: dict[str, Any] | None = None
           ) -> AuditEvent:
    """Record a change that matters, in the caller's transaction: the one call for every stage.

    ``kind``: dotted verb (``record.reclassified``, ``receipt.confirmed``, ``record.merged``);
    ``subject``: the message/record/receipt row changed (flushed, so it has its id), or
    ``(type, id)``; ``state``: its tracked state after the change (default: read from the row;
    ``None``: the row is gone); ``before``: its tracked state before the change, when the row
    existed (``audit_state.state_of(row)`` taken before changing it) — the verifier then also
    proves the row was what the chain said when the change was made; ``detail``: anything else
    worth keeping (the message that caused it, the reasons). Call it after the change, in the
    same unit of work, after taking the row locks the change needs (the chain head is locked
    here, and must be taken last).
    """
    if isinstance(subject, tuple):
        subject_type, subject_id = subject[0], subject[1]
        if state is CURRENT:
            state = NOT_GIVEN
    else:
        subject_type, subject_id = subject_of(subject)
        if state is CURRENT:
            state = state_of(subject)
    after: dict[str, Any] = dict(detail or {})
    if state is not NOT_GIVEN:
        after["state"] = state
    return record_event(session, project_id=project_id, actor=actor, action=kind,
                        subject_type=subject_type, subject_id=subject_id,
                        before=None if before is NOT_GIVEN else {"state": before},
                        after=after, now=now)


def deleted_ids(**ids: list[int]) -> dict[str, str]:
    """``detail["deleted"]`` of an event that deletes rows in bulk (retention): type → id ranges.

    The verifier then expects those rows gone: ``deleted_ids(message=[…], receipt=[…])``.
    """
    return {kind: ranges(values) for kind, values in ids.items() if values}


@dataclass(frozen=True)
class Break:
    """Where the chain is broken, named so an auditor can find the row."""

    seq: int
    event_id: int | None
    problem: str
    problem_zh: str = ""

    def __str__(self) -> str:
        ident = f"event id {self.event_id}" if self.event_id is not None else "end of chain"
        return f"audit seq {self.seq} ({ident}): {self.problem}"

    def zh(self) -> str:
        ident = f"事件 id {self.event_id}" if self.event_id is not None else "链尾"
        return f"审计 seq {self.seq}（{ident}）：{self.problem_zh or self.problem}"


def verify_chain(entries: Iterable[dict[str, Any]], *, head_seq: int | None = None,
                 head_hash: str | None = None) -> Iterator[Break]:
    """Check entries in seq order; yield every break. Pure: the archive verifies the same way."""
    expected_seq, prev = 1, GENESIS
    for entry in entries:
        seq, ident = int(entry["seq"]), entry.get("id")
        if seq != expected_seq:
            what = "missing" if seq > expected_seq else "duplicated or out of order"
            what_zh = "缺失" if seq > expected_seq else "重复或乱序"
            yield Break(seq, ident, f"expected seq {expected_seq}: entries {what} "
                                    f"(deleted or inserted history)",
                        f"应为 seq {expected_seq}：事件{what_zh}（历史被删除或插入）")
        if entry["prev_hash"] != prev:
            yield Break(seq, ident, "prev_hash does not match the previous entry "
                                    "(an earlier entry was changed or deleted)",
                        "prev_hash 与前一条事件不符（之前的事件被修改或删除）")
        if content_hash(entry) != entry["content_hash"]:
            yield Break(seq, ident, "content changed after it was written "
                                    "(content hash mismatch)",
                        "写入后内容被修改（内容哈希不符）")
        prev, expected_seq = entry_hash(entry), seq + 1
    last = expected_seq - 1
    if head_seq is not None and head_seq != last:
        yield Break(head_seq, None, f"chain ends at seq {last} but the head says {head_seq} "
                                    f"(entries at the end were deleted)",
                    f"链止于 seq {last}，但链头为 {head_seq}（末尾的事件被删除）")
    elif head_hash is not None and head_hash != prev:
        yield Break(last, None, "last entry does not match the chain head hash",
                    "最后一条事件与链头哈希不符")


def project_entries(session: Session, project_id: int, *,
                    upto_seq: int | None = None) -> Iterator[dict[str, Any]]:
    """The project's entries in seq order, fetched in batches (bounded memory)."""
    q = select(AuditEvent).where(AuditEvent.project_id == project_id)
    if upto_seq is not None:
        q = q.where(AuditEvent.seq <= upto_seq)
    for event in session.scalars(q.order_by(AuditEvent.seq, AuditEvent.id)
                                 .execution_options(yield_per=1000)):
        yield event_dict(event)


def head_of(session: Session, project_id: int) -> tuple[int, str]:
    head = session.get(AuditHead, project_id)
    return (head.seq, head.hash) if head is not None else (0, GENESIS)


def verify_project_chain(session: Session, project_id: int) -> list[Break]:
    seq, hash_ = head_of(session, project_id)
    return list(verify_chain(project_entries(session, project_id), head_seq=seq,
                             head_hash=hash_))
