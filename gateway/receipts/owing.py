"""The ``receipts`` stage: open receipts for a message that asks for them, count the answers.

Runs after ``record`` (gateway/pipeline/__init__.py). For every message:

1. If it answers a message that asks for receipts — a reply, a read receipt (MDN), or mail to a
   receipt's signed reply address — the answer is applied (gateway/receipts/answers.py).
2. Otherwise, if classification says it needs receipts (policy 4.3: important directives and
   decisions must be explicitly confirmed), one receipt is opened per recipient with a deadline
   on the business clock (gateway/escalation/plan.py) and a ``receipt_requests`` row for the ladder.
   The deadline never falls after the one the directive sets itself ("今晚22:00前完成",
   "完成时限：…", "by Friday 18:00": gateway/receipts/deadline.py).

Who owes a receipt (:func:`owing`): the To recipients, or To and Cc (``escalation.recipients``);
never the sender, never an address of the gateway's own domain (the project address, reply
addresses), never a mailing list: on list traffic (``List-Id``, or ``Precedence: list``, RFC 2369
/ RFC 3834 §3.1.8) only known people — members, stakeholders, interface persons — owe one, and
the list's own posting address never does.

Not opened: messages imported with ``--history`` (they would open deadlines in the past, and no
one can be chased about mail from last year — they get no receipts at all), automated mail
(auto-replies, bounces, MDNs), and mail that failed the authentication policy (a forged
directive must not make the gateway chase people).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.addresses import person_key, try_normalize
from gateway.config.people import person_name
from gateway.config.settings import ProjectConfig, Settings
from gateway.escalation.plan import deadline_for
from gateway.parse import ParsedMessage
from gateway.receipts.answers import apply_answers
from gateway.receipts.auth import AuthVerdict, check
from gateway.receipts.deadline import directive_due
from gateway.receipts.events import audit_events, note_event
from gateway.receipts.moves import capped
from gateway.store.models import Message, Receipt, Record
from gateway.store.receipt_models import ReceiptRequest

log = logging.getLogger(__name__)

LIST_PRECEDENCE = ("list", "bulk", "junk")


def known_people(project: ProjectConfig) -> set[str]:
    people = {person_key(m.email) for m in project.members}
    people |= {person_key(s.email) for s in project.stakeholders}
    people |= {person_key(d.interface.email) for d in project.departments}
    return people


def _list_addresses(parsed: ParsedMessage) -> set[str]:
    """The list's own addresses: List-Post ``<mailto:…>`` and the List-Id as local.domain."""
    out: set[str] = set()
    post = parsed.header("List-Post") or ""
    for part in post.split(","):
        part = part.strip().strip("<>")
        if part.lower().startswith("mailto:"):
            addr = try_normalize(part[7:].split("?", 1)[0])
            if addr:
                out.add(person_key(addr))
    list_id = (parsed.header("List-Id") or "").rpartition("<")[2].strip(" >")
    if "." in list_id:
        local, _, domain = list_id.partition(".")
        out.add(f"{local}@{domain}".lower())
    return out


def is_list_mail(parsed: ParsedMessage) -> bool:
    precedence = (parsed.header("Precedence") or "").strip().lower()
    return parsed.header("List-Id") is not None or precedence in LIST_PRECEDENCE


def owing(parsed: ParsedMessage, project: ProjectConfig,
          settings: Settings) -> list[tuple[str, str]]:
    """``[(display name, address)]`` who owe a receipt for this message (see module docstring)."""
    people: Iterable[tuple[str, str]] = list(parsed.to)
    if project.escalation.recipients == "to_cc":
        people = [*people, *parsed.cc]
    sender = person_key(parsed.from_addr or "")
    listed = is_list_mail(parsed)
    known = known_people(project) if listed else set()
    list_own = _list_addresses(parsed) if listed else set()
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for name, addr in people:
        key = person_key(addr)
        domain = key.rpartition("@")[2]
        if key in seen or key == sender or domain == settings.gateway.domain:
            continue
        if key == person_key(project.address) or key in list_own:
            continue
        if listed and key not in known:
            continue
        seen.add(key)
        out.append((name, addr))
    return out


def authenticate(*, message: Message, parsed: ParsedMessage, project: ProjectConfig,
                 raw: bytes) -> AuthVerdict:
    """The message's verdict (gateway/receipts/auth.py); a forged or unverified one is flagged
    on the message."""
    verdict = check(headers=parsed.authentication_results,
                    trusted=project.auth.trusted_authserv_ids, from_addr=parsed.from_addr,
                    raw=raw, dkim_verify=project.escalation.dkim_verify)
    if verdict.forged or verdict.unverified:
        flag = "forged" if verdict.forged else "unverified"
        message.flags = {**message.flags,
                         flag: {"reasons": list(verdict.reasons),
                                "evidence": list(verdict.evidence)}}
    if verdict.forged:
        log.warning("<%s> fails the authentication policy: %s", message.message_id,
                    ", ".join(verdict.reasons))
    elif verdict.unverified:
        log.info("<%s> not authenticated: %s", message.message_id,
                 ", ".join(verdict.reasons))
    return verdict


def take_receipts(session: Session, settings: Settings, project: ProjectConfig, *,
                  message: Message, parsed: ParsedMessage, thread_id: int | None,
                  record: Record | None, receipt_required: bool, urgency: str,
                  verdict: AuthVerdict, now: datetime) -> None:
    """The stage's work for one message: apply it as an answer, else open its receipts (see
    the module docstring for when); every event is audited."""
    events: list[int] = []
    answered = apply_answers(session, settings, project, message=message, parsed=parsed,
                             thread_id=thread_id, verdict=verdict, now=now, events=events)
    automated = parsed.auto_reply or parsed.bounce is not None or parsed.mdn is not None
    if (receipt_required and record is not None and not answered and not automated
            and not verdict.forged and not message.history):
        open_receipts(session, settings, project, message=message, parsed=parsed,
                      record=record, urgency=urgency, now=now, events=events)
    if events:
        audit_events(session, events, actor="system:receipts", now=now)


def open_receipts(session: Session, settings: Settings, project: ProjectConfig, *,
                  message: Message, parsed: ParsedMessage, record: Record, urgency: str,
                  now: datetime, events: list[int],
                  opened_at: datetime | None = None) -> ReceiptRequest | None:
    """One receipt per owing recipient and the request that carries the ladder; idempotent.

    ``urgency``: the message's (its classification's, or the record's when a person later says
    a record needs receipts). ``opened_at``: when the deadline starts (default: when the
    message arrived; a person who later says a record needs receipts starts it now)."""
    people = owing(parsed, project, settings)
    if not people:
        return None
    existing = session.scalars(select(ReceiptRequest)
                               .where(ReceiptRequest.message_pk == message.id)).one_or_none()
    if existing is not None:
        return existing  # a replay: everything below was already done
    calendar = project.escalation.calendar.build(project.timezone)
    opened_at = opened_at or message.received_at
    own_due = directive_due(f"{parsed.subject}\n{parsed.own_text or ''}",
                            sent_at=opened_at, zone=ZoneInfo(project.timezone),
                            closes=calendar.closes)
    by_urgency = deadline_for(project.escalation, calendar, opened_at=opened_at,
                              urgency=urgency)
    due = capped(by_urgency, own_due, start=opened_at)
    request = ReceiptRequest(project_id=message.project_id, message_pk=message.id,
                             record_id=record.id, sender=person_key(message.from_addr or ""),
                             urgency=urgency, opened_at=opened_at, deadline=due.deadline,
                             due_soon_at=due.due_soon_at, next_due_at=due.due_soon_at,
                             directive_due=own_due, updated_at=now)
    session.add(request)
    session.flush()
    for name, addr in people:
        receipt = Receipt(record_id=record.id, message_pk=message.id, recipient=addr,
                          recipient_key=person_key(addr),
                          recipient_name=person_name(project, addr, name)[:256],
                          status="pending", deadline=due.deadline, level=0,
                          opened_at=opened_at, updated_at=now, notes=[])
        session.add(receipt)
        session.flush()
        event = note_event(session, key=f"opened:{receipt.id}", project_id=message.project_id,
                           kind="opened", now=now, request_id=request.id, receipt_id=receipt.id,
                           cause_message_pk=message.id, status_after="pending",
                           detail={"recipient": addr, "deadline": due.deadline.isoformat(),
                                   "urgency": urgency,
                                   "directive_due": own_due.isoformat() if own_due else None})
        if event is not None:
            events.append(event)
    log.info("<%s> %d receipt(s) opened, due %s (%s)", message.message_id, len(people),
             due.deadline.isoformat(), urgency)
    return request
