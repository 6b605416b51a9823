"""Reading receipts back: the rows behind ``commgate receipts list`` and ``receipts show``.

Each row of :func:`list_receipts` is one recipient's receipt of one message (public JSON field
names): ``record_id``, ``message_id`` (the Message-ID of the message to be confirmed),
``recipient``, ``status`` (pending, read, confirmed, questioned, declined, waived),
``deadline`` (ISO 8601 in the project's time zone), ``level`` (0: not yet reminded; 1…: the
highest ladder level whose mail named it), ``needs_review`` (a reply nobody could read waits
for a person), ``history_count`` (entries ``receipts show`` prints for it), ``last_reply_at``
(when its recipient last replied), plus ``overdue``, ``receipt_id``, ``name``, ``subject``,
``sender``, ``urgency``, ``answered_at``, ``withdrawn`` and ``notes``.

:func:`history` is the story of each receipt of a record, oldest first, from its receipt
events: replies with their reading and the rule matches behind it, read receipts, notes, the
ladder's mails, and people's decisions with who and why.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.addresses import person_key
from gateway.receipts.states import OPEN
from gateway.store.models import Message, Receipt
from gateway.store.receipt_models import ReceiptEvent, ReceiptRequest

# Event kinds that are a reply of the recipient's (read or not).
REPLY_KINDS = ("confirmed", "questioned", "declined", "reading", "unclear")
# Event kinds of a person's decision (gateway/receipts/manual.py).
MANUAL_KINDS = ("set", "waived", "extended", "remind_now", "withdrawn")


def _iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat() if value is not None else None


def _event_stats(session: Session, receipt_ids: list[int]
                 ) -> tuple[dict[int, int], dict[int, datetime]]:
    if not receipt_ids:
        return {}, {}
    counts = {int(rid): int(n) for rid, n in session.execute(
        select(ReceiptEvent.receipt_id, func.count())
        .where(ReceiptEvent.receipt_id.in_(receipt_ids), ReceiptEvent.kind != "opened")
        .group_by(ReceiptEvent.receipt_id)) if rid is not None}
    last = {int(rid): at for rid, at in session.execute(
        select(ReceiptEvent.receipt_id, func.max(ReceiptEvent.at))
        .where(ReceiptEvent.receipt_id.in_(receipt_ids), ReceiptEvent.kind.in_(REPLY_KINDS))
        .group_by(ReceiptEvent.receipt_id)) if rid is not None and at is not None}
    return counts, last


def list_receipts(session: Session, *, project_id: int, zone: ZoneInfo, now: datetime,
                  overdue_only: bool = False, status: str | None = None,
                  record_id: int | None = None, recipient: str | None = None,
                  needs_review: bool = False) -> list[dict[str, Any]]:
    """Receipts of one project, oldest message first, narrowed by the filters given.

    ``overdue_only``: open and past due; ``recipient`` matches as replies do (case, plus-tags
    and IDN spellings folded); ``needs_review``: only receipts waiting for a person.
    """
    q = (select(Receipt, Message, ReceiptRequest)
         .join(Message, Message.id == Receipt.message_pk)
         .join(ReceiptRequest, ReceiptRequest.message_pk == Receipt.message_pk)
         .where(ReceiptRequest.project_id == project_id))
    if overdue_only:
        q = q.where(Receipt.status.in_(sorted(OPEN)), Receipt.deadline <= now,
                    ReceiptRequest.withdrawn_at.is_(None))
    if status:
        q = q.where(Receipt.status == status)
    if record_id is not None:
        q = q.where(Receipt.record_id == record_id)
    if recipient:
        q = q.where(Receipt.recipient_key == person_key(recipient))
    if needs_review:
        q = q.where(Receipt.needs_review.is_(True))
    found = list(session.execute(q.order_by(Receipt.message_pk, Receipt.id)))
    counts, last = _event_stats(session, [r.id for r, _m, _q in found])
    rows = []
    for receipt, message, request in found:
        overdue = (receipt.status in OPEN and receipt.deadline is not None
                   and receipt.deadline <= now and request.withdrawn_at is None)
        rows.append({
            "receipt_id": receipt.id, "record_id": receipt.record_id,
            "message_id": message.message_id, "subject": message.subject,
            "sender": message.from_addr, "recipient": receipt.recipient,
            "name": receipt.recipient_name, "status": receipt.status,
            "deadline": _iso(receipt.deadline, zone), "level": receipt.level,
            "overdue": overdue, "urgency": request.urgency,
            "needs_review": bool(receipt.needs_review),
            "history_count": counts.get(receipt.id, 0),
            "last_reply_at": _iso(last.get(receipt.id), zone),
            "answered_at": _iso(receipt.answered_at, zone),
            "withdrawn": request.withdrawn_at is not None, "notes": receipt.notes})
    return rows


def history(session: Session, *, project_id: int, record_id: int, zone: ZoneInfo
            ) -> list[dict[str, Any]]:
    """Per receipt of the record: its row and its events, oldest first (``receipts show``)."""
    found = list(session.execute(
        select(Receipt, Message, ReceiptRequest)
        .join(Message, Message.id == Receipt.message_pk)
        .join(ReceiptRequest, ReceiptRequest.message_pk == Receipt.message_pk)
        .where(ReceiptRequest.project_id == project_id, Receipt.record_id == record_id)
        .order_by(Receipt.message_pk, Receipt.id)))
    ids = [r.id for r, _m, _q in found]
    events: dict[int, list[ReceiptEvent]] = {i: [] for i in ids}
    requests: dict[int, list[ReceiptEvent]] = {}
    if ids:
        for event in session.scalars(select(ReceiptEvent).where(ReceiptEvent.receipt_id.in_(ids))
                                     .order_by(ReceiptEvent.at, ReceiptEvent.id)):
            events[event.receipt_id or 0].append(event)
        for event in session.scalars(
                select(ReceiptEvent).where(ReceiptEvent.request_id.in_(
                    sorted({q.id for _r, _m, q in found})), ReceiptEvent.receipt_id.is_(None))
                .order_by(ReceiptEvent.at, ReceiptEvent.id)):
            requests.setdefault(event.request_id or 0, []).append(event)
    out = []
    for receipt, message, request in found:
        out.append({
            "receipt_id": receipt.id, "recipient": receipt.recipient,
            "name": receipt.recipient_name, "status": receipt.status,
            "needs_review": bool(receipt.needs_review), "subject": message.subject,
            "message_id": message.message_id, "deadline": _iso(receipt.deadline, zone),
            "level": receipt.level, "withdrawn": request.withdrawn_at is not None,
            "request_id": request.id,
            "events": [{"at": _iso(e.at, zone), "kind": e.kind, "before": e.status_before,
                        "after": e.status_after, "detail": e.detail}
                       for e in events[receipt.id]],
            "request_events": [{"at": _iso(e.at, zone), "kind": e.kind, "detail": e.detail}
                               for e in requests.get(request.id, [])]})
    return out
