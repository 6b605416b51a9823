"""A person corrects what a record is: category, stakeholder group, formality, receipts — or
states its conclusion (:func:`conclude`).

``commgate records reclassify`` (gateway/cli/records.py) calls :func:`reclassify`. The
change is one audit event (``record.reclassified``, with who and why) and one history entry.
Receipts follow ``receipt_required`` (policy 4.3): when it turns true, the record's first
message that anyone owes a receipt for opens its receipts as the receipts stage would (or its
withdrawn receipts are pending again); when it turns false, every open receipt of the record is
``withdrawn`` and its ladder stops. Nothing commits here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import chain as audit
from gateway.audit.state import record_state
from gateway.config.classify import CATEGORIES
from gateway.config.settings import ProjectConfig
from gateway.errors import GatewayError, RecordEditError
from gateway.parse.message import parse_bounded
from gateway.receipts.events import audit_events, note_event
from gateway.receipts.owing import open_receipts
from gateway.receipts.states import OPEN_STATUSES, WITHDRAWN, Cause, ReceiptStatus, allowed
from gateway.records.search import index_record
from gateway.records.store import FORMALITY_ORDER, GROUP_ORDER, set_conclusion
from gateway.store.models import Message, Receipt, Record
from gateway.store.receipt_models import ReceiptRequest

if TYPE_CHECKING:
    from gateway.app import App

FIELDS = ("category", "stakeholder_group", "formality", "receipt_required")


@dataclass(frozen=True)
class Change:
    """What a person asks for; None: leave as it is."""

    category: str | None = None
    stakeholder_group: str | None = None
    formality: str | None = None
    receipt_required: bool | None = None

    def validate(self) -> None:
        for name, value, choices in (("category", self.category, CATEGORIES),
                                     ("group", self.stakeholder_group, GROUP_ORDER),
                                     ("formality", self.formality, FORMALITY_ORDER)):
            if value is not None and value not in choices:
                raise RecordEditError(f"unknown {name} {value!r}: use one of "
                                      f"{', '.join(choices)}")
        if all(getattr(self, f) is None for f in FIELDS):
            raise RecordEditError("nothing to change", hint="give --category, --group, "
                                  "--formality or --receipt-required")


@dataclass(frozen=True)
class Outcome:
    before: dict[str, Any]
    after: dict[str, Any]
    opened: int  # receipts opened or pending again
    withdrawn: int


def reclassify(app: App, session: Session, *, project: ProjectConfig, record: Record,
               change: Change, actor: str, note: str, now: datetime) -> Outcome:
    """Apply ``change`` to ``record``; audited, with receipts following receipt_required."""
    change.validate()
    if not note.strip():
        raise RecordEditError("--note is empty: say why the record is reclassified")
    before = {f: getattr(record, f) for f in FIELDS}
    before_state = record_state(record)
    wanted = {f: getattr(change, f) for f in FIELDS if getattr(change, f) is not None}
    diff = {f: v for f, v in wanted.items() if before[f] != v}
    if not diff:
        return Outcome(before, before, 0, 0)
    for name, value in diff.items():
        setattr(record, name, value)
    record.updated_at = now
    record.history = record.history + [{
        "event": "reclassified", "before": {f: before[f] for f in diff}, "after": diff,
        "by": actor.removeprefix("user:"), "note": note.strip(), "at": now.isoformat()}]
    events: list[int] = []
    opened = withdrawn = 0
    if diff.get("receipt_required") is True:
        opened = _open(app, session, project=project, record=record, now=now, events=events)
    elif diff.get("receipt_required") is False:
        withdrawn = _withdraw(session, record=record, actor=actor, now=now, events=events)
    session.flush()
    index_record(session, record, now=now)
    audit.record(session, record.project_id, "record.reclassified", record, actor=actor,
                 now=now, before=before_state,
                 detail={"before": {f: before[f] for f in diff}, **diff, "note": note.strip(),
                         "receipts_opened": opened, "receipts_withdrawn": withdrawn})
    if events:
        audit_events(session, events, actor=actor, now=now)
    return Outcome(before, {f: getattr(record, f) for f in FIELDS}, opened, withdrawn)


def conclude(session: Session, record: Record, text: str, *, by: str, now: datetime) -> None:
    """A person states the record's conclusion (policy 4.4, ``records conclude``); audited."""
    if not text.strip():
        raise RecordEditError("the conclusion is empty")
    before, before_state = record.conclusion, record_state(record)
    set_conclusion(record, text.strip(), by=by, source="cli", at=now)
    index_record(session, record, now=now)
    audit.record(session, record.project_id, "record.concluded", record, actor=f"user:{by}",
                 now=now, before=before_state,
                 detail={"conclusion": record.conclusion, "previous": before})


def _withdraw(session: Session, *, record: Record, actor: str, now: datetime,
              events: list[int]) -> int:
    count = 0
    for receipt in session.scalars(select(Receipt).where(Receipt.record_id == record.id,
                                                         Receipt.status.in_(OPEN_STATUSES))
                                   .order_by(Receipt.id).with_for_update()):
        count += _move(session, receipt, WITHDRAWN, kind="withdrawn", key="withdrawn",
                       project_id=record.project_id, cause_message_pk=receipt.message_pk,
                       detail={"recipient": receipt.recipient, "by": actor}, now=now,
                       events=events)
    for request in session.scalars(select(ReceiptRequest)
                                   .where(ReceiptRequest.record_id == record.id,
                                          ReceiptRequest.closed_at.is_(None))):
        request.next_due_at, request.closed_at, request.updated_at = None, now, now
    return count


def _resume(session: Session, request: ReceiptRequest, *, now: datetime,
            events: list[int]) -> int:
    count = 0
    for receipt in session.scalars(select(Receipt).where(Receipt.message_pk ==
                                                         request.message_pk,
                                                         Receipt.status == WITHDRAWN)):
        count += _move(session, receipt, ReceiptStatus.PENDING.value, kind="opened",
                       key="reopened", project_id=request.project_id, request_id=request.id,
                       cause_message_pk=request.message_pk,
                       detail={"recipient": receipt.recipient}, now=now, events=events)
    if count:
        # The ladder resumes where it stopped; the scheduler looks at it on its next pass.
        request.closed_at, request.next_due_at, request.updated_at = None, now, now
    return count


def _move(session: Session, receipt: Receipt, to: str, *, kind: str, key: str,
          project_id: int, cause_message_pk: int, detail: dict[str, Any], now: datetime,
          events: list[int], request_id: int | None = None) -> int:
    """One receipt moved by the record's correction, through the state table; 1 if it moved."""
    if not allowed(receipt.status, to, Cause.RECORD):
        return 0
    event = note_event(session, key=f"{key}:{receipt.id}:{now.isoformat()}",
                       project_id=project_id, kind=kind, now=now, request_id=request_id,
                       receipt_id=receipt.id, cause_message_pk=cause_message_pk,
                       status_before=receipt.status, status_after=to, detail=detail)
    if event is not None:
        events.append(event)
    receipt.status, receipt.updated_at = to, now
    return 1


def _open(app: App, session: Session, *, project: ProjectConfig, record: Record,
          now: datetime, events: list[int]) -> int:
    messages = session.scalars(select(Message).where(Message.record_id == record.id)
                               .order_by(Message.received_at, Message.id)).all()
    for message in messages:
        request = session.scalars(select(ReceiptRequest)
                                  .where(ReceiptRequest.message_pk == message.id)).first()
        if request is not None:
            resumed = _resume(session, request, now=now, events=events)
            if resumed:
                return resumed
            continue
        flags = message.flags or {}
        if message.history or any(k in flags for k in ("auto_reply", "bounce", "mdn", "forged")):
            continue
        try:
            raw = app.raw.get(message.sha256)
            parsed, _ = parse_bounded(raw, app.settings.gateway.text_stage_max)
        except (GatewayError, OSError, KeyError):
            continue
        before = len(events)
        opened = open_receipts(session, app.settings, project, message=message, parsed=parsed,
                               record=record, urgency=record.urgency, now=now, events=events,
                               opened_at=now)
        if opened is not None:
            return max(len(events) - before, 1)
    return 0
