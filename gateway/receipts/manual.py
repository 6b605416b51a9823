"""A person settles what mail cannot (DESIGN §4.7): set, waive, extend, remind now, withdraw.

The domain side of ``commgate receipts set|waive|extend|remind|withdraw``
(gateway/cli/receipts.py); a web desk calls the same functions. Each takes the caller's
session (it never commits), applies the moves of gateway/receipts/states.py through
gateway/receipts/moves.py, writes one receipt event per receipt touched — with who (``by``) and
why (``note``) — and puts those events on the audit trail as ``user:<by>``.

* **set** — an answer given by phone or in a meeting (formal or informal oral communication,
  table 4-1): the recipient's status becomes confirmed, questioned or declined, exactly as if
  they had replied (a question or refusal tells the author, a closed request reopens); setting
  the status a receipt already has settles its ``needs_review`` only.
* **waive** — the receipt is no longer owed (``waived``, settled): the ladder leaves it alone.
* **extend** — a later deadline: for one recipient (the ladder skips them until then, and comes
  back for them when it has run out), or for every open receipt of the record (a new round of
  the ladder from the new deadline).
* **remind** — a reminder now, outside the ladder, to one or every recipient still owing.
* **withdraw** — the directive is withdrawn: nothing more is sent for it, replies are still
  recorded.

Which receipts: those of the record ``--record``; with ``--recipient``, that person's receipt of
the record's latest message that asks them for one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.addresses import person_key
from gateway.config.settings import ProjectConfig, Settings
from gateway.errors import ReceiptsError
from gateway.escalation.mail import OutboxSink, Sink, reminder
from gateway.escalation.plan import Deadline
from gateway.receipts.events import audit_events, note_event
from gateway.receipts.moves import close_if_done, move, restart
from gateway.receipts.states import Cause, ReceiptStatus, allowed, is_open
from gateway.store.models import Message, Receipt
from gateway.store.receipt_models import ReceiptRequest

ANSWERABLE = ("confirmed", "questioned", "declined")


@dataclass(frozen=True)
class Decision:
    """Who decides and why: ``by`` is an address (a project member) or a login."""

    by: str
    note: str
    project: ProjectConfig
    project_id: int
    record_id: int
    now: datetime

    @property
    def actor(self) -> str:
        return f"user:{self.by}"

    def detail(self, **extra: object) -> dict[str, object]:
        return {"by": self.by, "note": self.note, **extra}


def check_person(project: ProjectConfig, by: str) -> str:
    """``--by`` must name a member of the project; its normalised address."""
    try:
        member = project.member(by)
    except ValueError:
        member = None
    if member is None:
        raise ReceiptsError(f"--by {by}: not a member of project {project.code}",
                            hint="the person deciding is a project member, by address: "
                                 + ", ".join(m.email for m in project.members))
    return member.email


def _requests(session: Session, d: Decision) -> list[ReceiptRequest]:
    found = list(session.scalars(select(ReceiptRequest).where(
        ReceiptRequest.project_id == d.project_id, ReceiptRequest.record_id == d.record_id)
        .order_by(ReceiptRequest.id).with_for_update()))
    if not found:
        raise ReceiptsError(f"record {d.record_id} of project {d.project.code} asks nobody "
                            f"for a receipt", hint="see `commgate receipts list --project "
                            f"{d.project.code}`")
    return found


def _receipts(session: Session, request: ReceiptRequest) -> list[Receipt]:
    return list(session.scalars(select(Receipt)
                                .where(Receipt.message_pk == request.message_pk)
                                .order_by(Receipt.id)))


def _one(session: Session, d: Decision, recipient: str) -> tuple[ReceiptRequest, Receipt]:
    """The recipient's receipt of the record's latest message that asks them for one."""
    key = person_key(recipient)
    for request in reversed(_requests(session, d)):
        for receipt in _receipts(session, request):
            if receipt.recipient_key == key:
                return request, receipt
    raise ReceiptsError(f"--recipient {recipient}: owes no receipt for record {d.record_id}")


def _key(kind: str, receipt_or_request: int) -> str:
    return f"{kind}:{receipt_or_request}:{secrets.token_hex(6)}"


def _finish(session: Session, d: Decision, events: list[int]) -> None:
    audit_events(session, events, actor=d.actor, now=d.now)


def set_status(session: Session, settings: Settings, d: Decision, *, recipient: str,
               status: str) -> Receipt:
    """The recipient's answer as a person heard it (phone, meeting): like a reply of theirs."""
    if status not in ANSWERABLE:
        raise ReceiptsError(f"--status {status}: give one of {', '.join(ANSWERABLE)}")
    request, receipt = _one(session, d, recipient)
    events: list[int] = []
    if receipt.status == status:
        if not receipt.needs_review:
            raise ReceiptsError(f"{receipt.recipient} is already {status} for record "
                                f"{d.record_id}")
        event = note_event(session, key=_key("set", receipt.id), project_id=d.project_id,
                           kind="set", now=d.now, request_id=request.id, receipt_id=receipt.id,
                           status_before=status, status_after=status,
                           detail=d.detail(status=status, reviewed=True))
        events += [event] if event is not None else []
        receipt.needs_review, receipt.updated_at = False, d.now
    elif not move(session, settings, d.project, receipt, request, to=status,
                  cause=Cause.MANUAL, key=_key("set", receipt.id), kind="set", now=d.now,
                  events=events, detail=d.detail(status=status), text=d.note,
                  by=person_key(d.by) if "@" in d.by else None):
        raise ReceiptsError(f"{receipt.recipient}: {receipt.status} → {status} is not allowed")
    close_if_done(session, request, now=d.now, events=events)
    _finish(session, d, events)
    return receipt


def waive(session: Session, settings: Settings, d: Decision, *, recipient: str) -> Receipt:
    """The recipient no longer owes this receipt."""
    request, receipt = _one(session, d, recipient)
    if not allowed(receipt.status, ReceiptStatus.WAIVED, Cause.MANUAL):
        raise ReceiptsError(f"{receipt.recipient} is already waived for record {d.record_id}")
    events: list[int] = []
    move(session, settings, d.project, receipt, request, to=ReceiptStatus.WAIVED,
         cause=Cause.MANUAL, key=_key("waived", receipt.id), kind="waived", now=d.now,
         events=events, detail=d.detail(), text=d.note)
    close_if_done(session, request, now=d.now, events=events)
    _finish(session, d, events)
    return receipt


def extend(session: Session, d: Decision, *, recipient: str | None,
           until: datetime) -> list[Receipt]:
    """A later deadline for one recipient, or for every open receipt of the record."""
    if until <= d.now:
        raise ReceiptsError(f"--until {until.isoformat()}: not in the future")
    if recipient:
        pairs = [_one(session, d, recipient)]
    else:
        pairs = [(q, r) for q in _requests(session, d) if q.withdrawn_at is None
                 and q.closed_at is None for r in _receipts(session, q)]
    pairs = [(q, r) for q, r in pairs if is_open(r.status)]
    if not pairs:
        raise ReceiptsError(f"nothing to extend: no open receipt for record {d.record_id}"
                            + (f" and {recipient}" if recipient else ""))
    late = [r for _q, r in pairs if r.deadline is not None and r.deadline >= until]
    if late:
        raise ReceiptsError(f"--until {until.isoformat()}: not later than the deadline of "
                            f"{late[0].recipient} ({late[0].deadline.isoformat()})"
                            if late[0].deadline else "--until: not later than the deadline")
    events: list[int] = []
    for request, receipt in pairs:
        event = note_event(session, key=_key("extended", receipt.id), project_id=d.project_id,
                           kind="extended", now=d.now, request_id=request.id,
                           receipt_id=receipt.id, status_before=receipt.status,
                           status_after=receipt.status,
                           detail=d.detail(until=until.isoformat(), before=receipt.deadline
                                           .isoformat() if receipt.deadline else None))
        events += [event] if event is not None else []
        receipt.deadline, receipt.updated_at = until, d.now
    for request in {q.id: q for q, _r in pairs}.values():
        if recipient is None:
            restart(request, Deadline(deadline=until, due_soon_at=until), now=d.now)
        elif request.withdrawn_at is None:
            # The ladder skips them until ``until`` and comes back for them then.
            due = [t for t in (request.next_due_at, until) if t is not None]
            request.next_due_at, request.updated_at = min(due), d.now
    _finish(session, d, events)
    return [r for _q, r in pairs]


def remind_now(session: Session, settings: Settings, d: Decision, *, recipient: str | None,
               sink: Sink | None = None) -> list[Receipt]:
    """A reminder now to one or every recipient still owing (outside the ladder)."""
    if recipient:
        pairs = [_one(session, d, recipient)]
    else:
        pairs = [(q, r) for q in _requests(session, d) for r in _receipts(session, q)]
    if any(q.withdrawn_at is not None for q, _r in pairs) and recipient:
        raise ReceiptsError(f"record {d.record_id} was withdrawn: nothing more is sent")
    pairs = [(q, r) for q, r in pairs if q.withdrawn_at is None and is_open(r.status)]
    if not pairs:
        raise ReceiptsError(f"nobody to remind: no open receipt for record {d.record_id}"
                            + (f" and {recipient}" if recipient else ""))
    events: list[int] = []
    out = sink or OutboxSink()
    for request, receipt in pairs:
        event = note_event(session, key=_key("remind_now", receipt.id),
                           project_id=d.project_id, kind="remind_now", now=d.now,
                           request_id=request.id, receipt_id=receipt.id,
                           status_before=receipt.status, status_after=receipt.status,
                           detail=d.detail())
        if event is None:
            continue
        events.append(event)
        directive = session.get_one(Message, request.message_pk)
        owed = [r for r in _receipts(session, request) if is_open(r.status)]
        mail = reminder(settings, d.project, request=request, directive=directive,
                        receipt=receipt, unconfirmed=owed, level=max(receipt.level, 1),
                        repeat=0, now=d.now, key=f"reminder-now:{receipt.id}:{event}")
        out.put(session, mail, project_id=d.project_id, now=d.now)
    _finish(session, d, events)
    return [r for _q, r in pairs]


def withdraw(session: Session, d: Decision) -> list[ReceiptRequest]:
    """The directive is withdrawn: no reminder, escalation or notice is sent for it again."""
    requests = [q for q in _requests(session, d) if q.withdrawn_at is None]
    if not requests:
        raise ReceiptsError(f"record {d.record_id} is already withdrawn")
    events: list[int] = []
    for request in requests:
        event = note_event(session, key=f"withdrawn:{request.id}", project_id=d.project_id,
                           kind="withdrawn", now=d.now, request_id=request.id,
                           detail=d.detail())
        events += [event] if event is not None else []
        request.withdrawn_at, request.next_due_at, request.updated_at = d.now, None, d.now
    _finish(session, d, events)
    return requests
