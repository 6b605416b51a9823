"""Receipt events: each state change written once under a unique key, then to the audit trail.

Every change the receipts stage or the scheduler makes is first an ``INSERT … ON CONFLICT DO
NOTHING`` into ``receipt_events``; only the caller that inserted the row goes on to change state,
so a replayed message, a redelivered job or a second scheduler finds the key taken and does
nothing (the delivery-status state machine of pypi/warehouse's SES events works the same way).

The audit trail (gateway/audit/chain.py, hash-chained per project) gets each event as
``receipt.<kind>``. The receipts stage writes its own events to it at the end of its unit of
work; the scheduler writes them in a short transaction of their own after its pass
(:func:`flush_audit`), because the audit chain's head lock must never be waited for while
receipt rows are locked — the pipeline takes those locks in the opposite order.

A *status change* reaches the chain carrying the receipt's tracked state (gateway/audit/state.py),
which ``audit verify`` replays against the row. It must therefore be audited in the transaction
that makes it, as the receipts stage does: a status change left to :func:`flush_audit` would be
in the chain after later changes and read as tampering. Notes and request-level events (due
soon, reminded, escalated) carry no state and may be deferred.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.store.models import Receipt
from gateway.store.receipt_models import ReceiptEvent

AUDIT_ACTOR = {"stage": "system:receipts", "scheduler": "system:scheduler"}


def note_event(session: Session, *, key: str, project_id: int, kind: str, now: datetime,
               request_id: int | None = None, receipt_id: int | None = None,
               cause_message_pk: int | None = None, status_before: str | None = None,
               status_after: str | None = None, detail: dict[str, Any] | None = None
               ) -> int | None:
    """Insert the event; its id if this call inserted it, None if the key was already taken."""
    values = {"key": key[:255], "project_id": project_id, "kind": kind, "at": now,
              "request_id": request_id, "receipt_id": receipt_id,
              "cause_message_pk": cause_message_pk, "status_before": status_before,
              "status_after": status_after, "detail": detail or {}, "audited": False}
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(ReceiptEvent).values(**values).on_conflict_do_nothing(
        index_elements=["key"]).returning(ReceiptEvent.id)
    return session.execute(stmt).scalar_one_or_none()


def _audit(session: Session, event: ReceiptEvent, actor: str, now: datetime) -> None:
    detail = {"status": event.status_after, "key": event.key, "message": event.cause_message_pk,
              **event.detail}
    receipt = session.get(Receipt, event.receipt_id) if event.receipt_id is not None else None
    changed = event.status_after is not None and event.status_before != event.status_after
    if receipt is not None and changed:
        # A status change: the chain carries the receipt's tracked state, so `audit verify` can
        # tell a status set in the database from one the gateway set. Notes carry none: they
        # would vouch for whatever the row says.
        fixed = {"recipient": receipt.recipient, "message_pk": receipt.message_pk}
        audit.record(session, event.project_id, f"receipt.{event.kind}", receipt,
                     {"status": event.status_after, **fixed}, actor=actor, now=now,
                     before=({"status": event.status_before, **fixed}
                             if event.status_before else audit.NOT_GIVEN),
                     detail=detail)
    else:
        subject = (("receipt", event.receipt_id) if event.receipt_id is not None
                   else ("receipt_request", event.request_id if event.request_id is not None
                         else "-"))
        audit.record_event(session, project_id=event.project_id, actor=actor,
                           action=f"receipt.{event.kind}", subject_type=subject[0],
                           subject_id=subject[1],
                           before={"status": event.status_before} if event.status_before
                           else None, after=detail, now=now)
    event.audited = True


def audit_events(session: Session, event_ids: list[int], *, actor: str, now: datetime) -> None:
    """Write these events (inserted in this unit of work) to the audit trail."""
    for event_id in sorted(event_ids):
        event = session.get_one(ReceiptEvent, event_id)
        if not event.audited:
            _audit(session, event, actor, now)


def flush_audit(session: Session, *, project_id: int | None, actor: str, now: datetime,
                limit: int = 500) -> int:
    """Audit events not yet audited (the scheduler's); rows another process holds are skipped."""
    q = select(ReceiptEvent).where(ReceiptEvent.audited.is_(False))
    if project_id is not None:
        q = q.where(ReceiptEvent.project_id == project_id)
    q = q.order_by(ReceiptEvent.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    events = list(session.scalars(q))
    for event in events:
        _audit(session, event, actor, now)
    return len(events)
