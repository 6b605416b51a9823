"""Reading receipts back: the rows behind ``commgate receipts list`` (public JSON field names).

Each row is one recipient's receipt of one message: ``record_id``, ``message_id`` (the
Message-ID of the message to be confirmed), ``recipient``, ``status`` (pending, read, confirmed,
questioned, declined), ``deadline`` (ISO 8601 in the project's time zone), ``level`` (0: not yet
reminded; 1…: the highest ladder level whose mail named it), plus ``overdue``, ``receipt_id``,
``name``, ``subject``, ``sender``, ``answered_at`` and ``notes``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Load, Session

from gateway.store.models import Message, Receipt
from gateway.store.receipt_models import ANSWERS, ReceiptRequest

OPEN = ("pending", "read", "questioned", "declined")


def _iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat() if value is not None else None


def list_receipts(session: Session, *, project_id: int, zone: ZoneInfo, now: datetime,
                  overdue_only: bool = False) -> list[dict[str, Any]]:
    """Receipts of one project, oldest message first; ``overdue_only``: open and past due."""
    q = (select(Receipt, Message, ReceiptRequest).options(Load(Receipt).undefer_group(ANSWERS))
         .join(Message, Message.id == Receipt.message_pk)
         .join(ReceiptRequest, ReceiptRequest.message_pk == Receipt.message_pk)
         .where(ReceiptRequest.project_id == project_id))
    if overdue_only:
        q = q.where(Receipt.status.in_(OPEN), Receipt.deadline <= now)
    rows = []
    for receipt, message, request in session.execute(q.order_by(Receipt.message_pk,
                                                                 Receipt.id)):
        overdue = (receipt.status in OPEN and receipt.deadline is not None
                   and receipt.deadline <= now)
        rows.append({
            "receipt_id": receipt.id, "record_id": receipt.record_id,
            "message_id": message.message_id, "subject": message.subject,
            "sender": message.from_addr, "recipient": receipt.recipient,
            "name": receipt.recipient_name, "status": receipt.status,
            "deadline": _iso(receipt.deadline, zone), "level": receipt.level,
            "overdue": overdue, "urgency": request.urgency,
            "answered_at": _iso(receipt.answered_at, zone), "notes": receipt.notes})
    return rows
