"""The mails of the receipts flow: reminders, escalations, and "questioned/declined" notices.

All of them are rendered from ``templates/reminders/<name>/`` (zh-CN first, ``.en`` variants),
built with :func:`gateway.notify.compose.compose` (our Message-ID, ``Auto-Submitted:
auto-generated``, the record code in the subject) and queued through the outbox under an
idempotency key, in the caller's unit of work — never sent directly:

==================  =====================================  ====================================
mail                idempotency key                        to / cc / Reply-To
==================  =====================================  ====================================
reminder            ``reminder:<receipt>:<level>:<rep>``   recipient / author / signed address
escalation          ``escalation:<message>:<level>:<rep>`` managers / author / project address
answer notice       ``receipt-answer:<receipt>:<reply>``   author / — / the person who answered
review request      ``receipt-review:<receipt>:<reply>``   author / — / the person who answered
==================  =====================================  ====================================

A reopened request walks the ladder again in round *n* (gateway/receipts/moves.py): its
reminder and escalation keys end in ``:r<n>``. A reminder a person asks for now (``receipts
remind``) is keyed ``reminder-now:<receipt>:<event>``; an answer notice for a person's decision
``receipt-answer:<receipt>:set-<event>``.

Each threads to the directive (In-Reply-To/References), so a reply to it threads there too. A
:class:`Sink` receives the finished mail: the outbox normally, a list under ``tick --dry-run``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy.orm import Session

from gateway.config.people import display_name, person_name
from gateway.config.settings import Member, ProjectConfig, Settings
from gateway.notify.compose import compose, record_code
from gateway.notify.outbox import queue
from gateway.notify.render import recipient_language, render
from gateway.notify.tokens import make_reply_address
from gateway.store.models import Message, Receipt
from gateway.store.receipt_models import ReceiptRequest

AREA = "reminders"


@dataclass(frozen=True)
class Outgoing:
    """One mail ready for the outbox."""

    kind: str
    key: str
    message: EmailMessage
    recipients: tuple[str, ...]
    record_id: int | None
    receipt_id: int | None
    to: tuple[str, ...] = ()  # whom it is for (a digest gathers one pass's mails per ``to``)


class Sink(Protocol):
    def put(self, session: Session, mail: Outgoing, *, project_id: int, now: datetime) -> None:
        ...


class OutboxSink:
    """The real thing: gateway/notify/outbox.py (idempotent on the key)."""

    def put(self, session: Session, mail: Outgoing, *, project_id: int, now: datetime) -> None:
        queue(session, project_id=project_id, kind=mail.kind, idempotency_key=mail.key,
              message=mail.message, recipients=list(mail.recipients), record_id=mail.record_id,
              receipt_id=mail.receipt_id, now=now)


@dataclass
class ListSink:
    """``tick --dry-run``: keep what would be queued."""

    mails: list[Outgoing] = field(default_factory=list)

    def put(self, session: Session, mail: Outgoing, *, project_id: int, now: datetime) -> None:
        self.mails.append(mail)


def person_row(project: ProjectConfig, receipt: Receipt) -> dict[str, Any]:
    """One person a mail talks about, named as the project file names them (issue 21)."""
    return {"name": display_name(project, receipt.recipient, receipt.recipient_name),
            "address": receipt.recipient, "status": receipt.status, "level": receipt.level,
            "deadline": receipt.deadline,
            "notes": receipt.notes[-1:] if receipt.notes else []}


def _directive(project: ProjectConfig, message: Message,
               request: ReceiptRequest) -> dict[str, Any]:
    return {"subject": message.subject, "message_id": message.message_id,
            "author": display_name(project, message.from_addr or "", message.from_name),
            "author_address": message.from_addr or "", "sent_at": message.sent_at
            or message.received_at, "text": message.own_text.strip(),
            "deadline": request.deadline, "urgency": request.urgency}


def _threading(message: Message) -> dict[str, Any]:
    return {"references": [message.message_id], "in_reply_to": message.message_id}


def _round(number: int) -> str:
    return f":r{number}" if number else ""


def reminder(settings: Settings, project: ProjectConfig, *, request: ReceiptRequest,
             directive: Message, receipt: Receipt, unconfirmed: Sequence[Receipt], level: int,
             repeat: int, now: datetime, key: str | None = None) -> Outgoing:
    """Level "recipients": one mail to one unconfirmed recipient, author in Cc."""
    language = recipient_language(project, receipt.recipient)
    reply_to = make_reply_address(settings, project.code, receipt.id, expires=now + timedelta(
        days=project.escalation.reply_address_days))
    rendered = render(AREA, "reminder", language=language, project=project, context={
        "directive": _directive(project, directive, request),
        "receipt": person_row(project, receipt),
        "unconfirmed": [person_row(project, r) for r in unconfirmed], "level": level,
        "repeat": repeat, "reply_address": reply_to, "now": now})
    cc = [directive.from_addr] if directive.from_addr else []
    message = compose(settings=settings, project=project, sender=(project.name, project.address),
                      to=[(person_name(project, receipt.recipient, receipt.recipient_name),
                           receipt.recipient)], cc=cc,
                      subject=rendered.subject, text=rendered.text, html=rendered.html,
                      automated=True, reply_to=reply_to, language=language,
                      record_code=record_code(project.code, request.record_id),
                      **_threading(directive))
    key = key or f"reminder:{receipt.id}:{level}:{repeat}{_round(request.round)}"
    return Outgoing(kind="reminder", key=key,
                    message=message, recipients=(receipt.recipient, *cc),
                    record_id=request.record_id, receipt_id=receipt.id,
                    to=(receipt.recipient,))


def escalation(settings: Settings, project: ProjectConfig, *, request: ReceiptRequest,
               directive: Message, to: Sequence[Member], unconfirmed: Sequence[Receipt],
               level: int, repeat: int, notify: str, now: datetime) -> Outgoing:
    """A manager level: one mail per message and level listing everyone still unconfirmed."""
    language = project.language
    rendered = render(AREA, "escalation", language=language, project=project, context={
        "directive": _directive(project, directive, request), "level": level, "repeat": repeat,
        "notify": notify, "unconfirmed": [person_row(project, r) for r in unconfirmed],
        "now": now, "to_names": ("、" if language == "zh-CN" else ", ").join(m.name for m in to)})
    addresses = [m.email for m in to]
    cc = [directive.from_addr] if directive.from_addr and directive.from_addr not in addresses \
        else []
    message = compose(settings=settings, project=project, sender=(project.name, project.address),
                      to=[(m.name, m.email) for m in to], cc=cc, subject=rendered.subject,
                      text=rendered.text, html=rendered.html, automated=True,
                      language=language,
                      record_code=record_code(project.code, request.record_id),
                      **_threading(directive))
    return Outgoing(kind="escalation",
                    key=f"escalation:{request.message_pk}:{level}:{repeat}{_round(request.round)}",
                    message=message, recipients=(*addresses, *cc),
                    record_id=request.record_id, receipt_id=None, to=tuple(addresses))


def _to_author(session: Session, settings: Settings, project: ProjectConfig, *, name: str,
               receipt: Receipt, request: ReceiptRequest, reply: Message | None, text: str,
               key: str, kind: str, now: datetime, extra: dict[str, Any],
               sink: Sink | None) -> bool:
    directive = session.get_one(Message, request.message_pk)
    if not directive.from_addr:
        return False
    language = recipient_language(project, directive.from_addr)
    rendered = render(AREA, name, language=language, project=project, context={
        "directive": _directive(project, directive, request),
        "receipt": person_row(project, receipt),
        "answer": text.strip()[:4000], "now": now, "record_id": request.record_id,
        "previous": None, "by": None, "note": None, "new_deadline": None, **extra})
    references = [directive.message_id, *([reply.message_id] if reply is not None else [])]
    message = compose(settings=settings, project=project, sender=(project.name, project.address),
                      to=[(person_name(project, directive.from_addr, directive.from_name),
                           directive.from_addr)],
                      subject=rendered.subject, text=rendered.text, html=rendered.html,
                      automated=True,
                      reply_to=(person_name(project, receipt.recipient, receipt.recipient_name),
                                receipt.recipient),
                      language=language,
                      record_code=record_code(project.code, request.record_id),
                      references=references, in_reply_to=references[-1])
    mail = Outgoing(kind=kind, key=key, message=message, recipients=(directive.from_addr,),
                    record_id=request.record_id, receipt_id=receipt.id)
    (sink or OutboxSink()).put(session, mail, project_id=request.project_id, now=now)
    return True


def queue_answer_notice(session: Session, settings: Settings, project: ProjectConfig, *,
                        receipt: Receipt, request: ReceiptRequest, reply: Message | None,
                        own_text: str, now: datetime, key: str | None = None,
                        previous: str | None = None, by: str | None = None,
                        new_deadline: datetime | None = None,
                        sink: Sink | None = None) -> bool:
    """Tell the directive's author at once that a recipient questioned or declined it.

    ``reply`` is the mail that said so (None: a person's decision, ``by``, whose note is
    ``own_text``); ``previous`` the status before (a reversal of a confirmation says so);
    ``new_deadline`` the deadline of a reopened request.
    """
    if key is None:
        assert reply is not None
        key = f"receipt-answer:{receipt.id}:{reply.id}"
    return _to_author(session, settings, project, name="answer", receipt=receipt,
                      request=request, reply=reply, text=own_text, key=key,
                      kind="receipt_answer", now=now, sink=sink,
                      extra={"previous": previous, "by": by, "new_deadline": new_deadline})


def queue_review_notice(session: Session, settings: Settings, project: ProjectConfig, *,
                        receipt: Receipt, request: ReceiptRequest, reply: Message,
                        own_text: str, now: datetime, sink: Sink | None = None) -> bool:
    """Ask the directive's author to settle a reply no rule could read (``needs_review``)."""
    return _to_author(session, settings, project, name="review", receipt=receipt,
                      request=request, reply=reply, text=own_text,
                      key=f"receipt-review:{receipt.id}:{reply.id}", kind="receipt_review",
                      now=now, sink=sink, extra={})


def queue_unverified_notice(session: Session, settings: Settings, project: ProjectConfig, *,
                            receipt: Receipt, request: ReceiptRequest, reply: Message,
                            own_text: str, reasons: list[str], now: datetime,
                            sink: Sink | None = None) -> bool:
    """Show the directive's author an answer that failed authentication (issue 16): it is not
    counted, and a person settles the receipt (``receipts set``)."""
    return _to_author(session, settings, project, name="unverified", receipt=receipt,
                      request=request, reply=reply, text=own_text,
                      key=f"receipt-unverified:{receipt.id}:{reply.id}",
                      kind="receipt_unverified", now=now, sink=sink,
                      extra={"reasons": reasons or ["?"]})
