"""Moving a receipt, the one way every cause takes: event, status, author notice, the ladder.

The receipts stage (a reply's reading, gateway/receipts/answers.py) and a person's decision
(gateway/receipts/manual.py) both call :func:`move`; the moves allowed are the table of
gateway/receipts/states.py. A move

1. is written first as a receipt event under a unique key (a replay finds the key taken and
   does nothing, gateway/receipts/events.py);
2. sets the status, clears ``needs_review`` (the question is settled), and for a reply
   remembers it as the receipt's latest answer;
3. into ``questioned`` or ``declined`` (DESIGN §4.5): reopens the request when it was closed
   because everyone had confirmed — a new round of the ladder with a deadline by urgency from
   the time of the move, on business time, never after the directive's own deadline — and tells
   the directive's author at once, with the reply's own text (or the person's note).

A withdrawn request (``receipts withdraw``) still records what people answer, but nothing more
is sent and nothing reopens. :func:`close_if_done` closes a request whose receipts are all
settled (confirmed or waived); :func:`restart` puts a request on a fresh round of its ladder
(reopening, ``receipts extend``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.settings import ProjectConfig, Settings
from gateway.escalation.mail import queue_answer_notice
from gateway.escalation.plan import Deadline, deadline_for
from gateway.receipts.events import note_event
from gateway.receipts.states import ALERTING, SETTLED, Cause, allowed, is_open
from gateway.store.models import Message, Receipt
from gateway.store.receipt_models import ReceiptRequest

log = logging.getLogger(__name__)


def capped(due: Deadline, directive_due: datetime | None, *, start: datetime) -> Deadline:
    """The deadline by urgency, cut back to the directive's own one when that comes first.

    A directive deadline already past at ``start`` cuts nothing: a deadline in the past would
    only chase someone for an answer they just gave.
    """
    if directive_due is None or directive_due <= start or directive_due >= due.deadline:
        return due
    return Deadline(deadline=directive_due, due_soon_at=min(due.due_soon_at, directive_due))


def restart(request: ReceiptRequest, due: Deadline, *, now: datetime) -> None:
    """A new round of the ladder from ``due`` (steps of earlier rounds stay claimed)."""
    request.round += 1
    request.deadline, request.due_soon_at = due.deadline, due.due_soon_at
    request.steps_done, request.due_soon_noted, request.overdue_noted = 0, False, False
    request.next_due_at, request.closed_at, request.updated_at = due.due_soon_at, None, now


def receipts_of(session: Session, request: ReceiptRequest) -> list[Receipt]:
    return list(session.scalars(select(Receipt)
                                .where(Receipt.message_pk == request.message_pk)
                                .order_by(Receipt.id)))


def reopen(session: Session, project: ProjectConfig, request: ReceiptRequest, *,
           now: datetime, events: list[int], cause_message_pk: int | None) -> datetime | None:
    """Put a request closed because everyone confirmed back on the ladder; its new deadline."""
    if request.closed_at is None or request.withdrawn_at is not None:
        return None
    cfg = project.escalation
    calendar = cfg.calendar.build(project.timezone)
    due = capped(deadline_for(cfg, calendar, opened_at=now, urgency=request.urgency),
                 request.directive_due, start=now)
    restart(request, due, now=now)
    for receipt in receipts_of(session, request):
        if is_open(receipt.status):
            receipt.deadline, receipt.updated_at = due.deadline, now
    event = note_event(session, key=f"reopened:{request.id}:r{request.round}",
                       project_id=request.project_id, kind="reopened", now=now,
                       request_id=request.id, cause_message_pk=cause_message_pk,
                       detail={"round": request.round, "deadline": due.deadline.isoformat()})
    if event is not None:
        events.append(event)
    log.info("receipt request %d reopened (round %d), due %s", request.id, request.round,
             due.deadline.isoformat())
    return due.deadline


def move(session: Session, settings: Settings, project: ProjectConfig, receipt: Receipt,
         request: ReceiptRequest, *, to: str, cause: Cause, key: str, kind: str,
         now: datetime, events: list[int], detail: dict[str, Any], text: str,
         message: Message | None = None, by: str | None = None) -> bool:
    """Apply one allowed move; False when the table refuses it or it was applied before."""
    before = receipt.status
    if not allowed(before, to, cause):
        return False
    event = note_event(session, key=key, project_id=request.project_id, kind=kind, now=now,
                       request_id=request.id, receipt_id=receipt.id,
                       cause_message_pk=message.id if message is not None else None,
                       status_before=before, status_after=to, detail=detail)
    if event is None:
        return False  # a replay: already applied
    events.append(event)
    log.info("receipt %d (%s): %s → %s (%s)", receipt.id, receipt.recipient, before, to, cause)
    receipt.status, receipt.updated_at, receipt.needs_review = to, now, False
    if message is not None:
        receipt.answered_at, receipt.answer_message_pk = now, message.id
    if to in ALERTING and request.withdrawn_at is None:
        new_deadline = reopen(session, project, request, now=now, events=events,
                              cause_message_pk=message.id if message is not None else None)
        if by is None or by != request.sender:  # the author deciding needs no mail about it
            queue_answer_notice(session, settings, project, receipt=receipt, request=request,
                                reply=message, own_text=text, now=now,
                                key=None if message is not None else
                                f"receipt-answer:{receipt.id}:set-{event}",
                                previous=before, by=by, new_deadline=new_deadline)
    return True


def close_if_done(session: Session, request: ReceiptRequest, *, now: datetime,
                  events: list[int], cause_message_pk: int | None = None) -> bool:
    """Close the request when every receipt is settled: the ladder stops (DESIGN §4.4).

    True when nothing more is to be done for it (closed, or withdrawn).
    """
    if request.closed_at is not None or request.withdrawn_at is not None:
        return True
    statuses = session.scalars(select(Receipt.status)
                               .where(Receipt.message_pk == request.message_pk)).all()
    if any(s not in SETTLED for s in statuses):
        return False
    suffix = f":r{request.round}" if request.round else ""
    event = note_event(session, key=f"closed:{request.id}{suffix}",
                       project_id=request.project_id, kind="closed", now=now,
                       request_id=request.id, cause_message_pk=cause_message_pk)
    if event is not None:
        events.append(event)
    request.closed_at, request.next_due_at, request.updated_at = now, None, now
    return True
