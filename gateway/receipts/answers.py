"""Applying answers to receipts: replies, read receipts (MDN) and mail to signed reply addresses.

A message answers a receipt when (DESIGN §4.2) it

* threads to the message that asked — its In-Reply-To/References name that Message-ID, or the
  threading stage put it in the same thread, after it — or it is an MDN whose
  ``Original-Message-ID`` names it (RFC 8098 §3.2.5), or it arrived on that receipt's signed
  reply address (gateway/notify/tokens.py; the envelope recipients are kept on its Arrival), and
* comes from that recipient: ``person_key`` equality, so case, display names, plus-tags and IDN
  spellings do not matter. A reply sent to someone else's reply address does not count for them.

What it does to the receipt:

=================  ==========================================================================
forged             kept, noted on the receipt, status unchanged (the message is flagged)
unverified         kept, noted, status unchanged, ``needs_review`` set and the directive's
                   author shown the answer (gateway/receipts/auth.py: not authenticated fail-closed)
MDN                pending → read; never confirmed (policy 4.3 asks for understanding)
auto-reply         noted (RFC 3834 out-of-office); never confirms
own text           read_intent: confirmed | questioned | declined — the latest answer decides,
                   through the moves of gateway/receipts/states.py (gateway/receipts/moves.py)
unclear            status kept, ``needs_review`` set, the author asked to settle it (with text)
=================  ==========================================================================

Every reading is a receipt event with the rule matches that led to it (``reasons``): a move
(kind = the new status), or ``reading`` when the answer moves nothing (the same answer again, a
waived receipt, or mail older than the latest answer — out of order, it is history only).
A move into questioned or declined tells the directive's author at once and reopens a request
that was closed because everyone had confirmed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.addresses import person_key
from gateway.config.settings import ProjectConfig, Settings
from gateway.escalation.mail import queue_review_notice, queue_unverified_notice
from gateway.notify.tokens import verify_reply_address
from gateway.parse import ParsedMessage
from gateway.parse.automated import is_automated
from gateway.receipts.auth import AuthVerdict
from gateway.receipts.events import note_event
from gateway.receipts.intent import read_intent
from gateway.receipts.moves import close_if_done, move
from gateway.receipts.states import Cause
from gateway.store.models import Arrival, Message, Receipt
from gateway.store.receipt_models import ReceiptRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """The message being applied as an answer, and where: what the steps below share."""

    session: Session
    settings: Settings
    project: ProjectConfig
    message: Message
    parsed: ParsedMessage
    thread_id: int | None  # the threading stage's verdict


def _token_receipt_ids(a: Answer) -> set[int]:
    """Receipts named by signed reply addresses this message was delivered to."""
    settings, message = a.settings, a.message
    addresses = a.session.scalars(select(Arrival.envelope_to)
                                    .where(Arrival.message_pk == message.id))
    ids: set[int] = set()
    for envelope in addresses:
        for address in envelope or []:
            # The listener checked expiry at RCPT time; judge it as of arrival, not of now.
            token = verify_reply_address(settings, str(address), now=message.received_at)
            if token is not None and token.project_code == a.project.code:
                ids.add(token.receipt_id)
    return ids


def _request_ids(a: Answer, token_ids: set[int]) -> set[int]:
    """Requests this message answers: named by its references (or, failing that, its thread)."""
    p, message, session = a.parsed, a.message, a.session
    refs = {*p.in_reply_to, *p.references}
    if p.mdn is not None and p.mdn.original_message_id:
        refs.add(p.mdn.original_message_id)
    refs.discard(message.message_id)
    base = (select(ReceiptRequest.id)
            .join(Message, Message.id == ReceiptRequest.message_pk)
            .where(Message.project_id == message.project_id, Message.id != message.id))
    found: set[int] = set()
    if refs:
        found |= set(session.scalars(base.where(Message.message_id.in_(sorted(refs)))))
    if not found and a.thread_id is not None:
        # No reference names a tracked message (a client that drops In-Reply-To): the
        # threading stage's verdict counts, for messages stored before this one.
        found |= set(session.scalars(base.where(Message.thread_id == a.thread_id,
                                                Message.received_at <= message.received_at)))
    if token_ids:
        found |= set(session.scalars(
            select(ReceiptRequest.id).join(Receipt, Receipt.message_pk == ReceiptRequest.message_pk)
            .where(Receipt.id.in_(sorted(token_ids)),
                   ReceiptRequest.project_id == message.project_id)))
    return found


def _requests(a: Answer, token_ids: set[int]) -> list[ReceiptRequest]:
    """The requests, locked in id order (the scheduler locks them too, in the same order)."""
    wanted = sorted(_request_ids(a, token_ids))
    if not wanted:
        return []
    return list(a.session.scalars(select(ReceiptRequest)
                                    .where(ReceiptRequest.id.in_(wanted))
                                    .order_by(ReceiptRequest.id).with_for_update()))


def apply_answers(session: Session, settings: Settings, project: ProjectConfig, *,
                  message: Message, parsed: ParsedMessage, thread_id: int | None,
                  verdict: AuthVerdict, now: datetime, events: list[int]) -> bool:
    """Apply this message to every receipt it answers; True if it answered at least one."""
    if not parsed.from_addr:
        return False
    a = Answer(session=session, settings=settings, project=project, message=message,
               parsed=parsed, thread_id=thread_id)
    sender = person_key(parsed.from_addr)
    token_ids = _token_receipt_ids(a)
    requests = _requests(a, token_ids)
    if not requests:
        return False
    by_message = {r.message_pk: r for r in requests}
    receipts = list(session.scalars(select(Receipt).where(
        Receipt.message_pk.in_(sorted(by_message))).order_by(Receipt.id)))
    for receipt in receipts:
        if receipt.id in token_ids and receipt.recipient_key != sender:
            _note(a, receipt, by_message[receipt.message_pk], "foreign_token", now, events,
                  {"from": sender, "owner": receipt.recipient_key})
    # Mail on someone else's reply address counts for nobody, not even its sender's own receipt.
    foreign = {r.message_pk for r in receipts if r.id in token_ids and r.recipient_key != sender}
    mine = [r for r in receipts if r.recipient_key == sender and r.message_pk not in foreign]
    for receipt in mine:
        _apply_one(a, receipt, by_message[receipt.message_pk], verdict, now, events)
    for request in requests:
        close_if_done(session, request, now=now, events=events,
                      cause_message_pk=message.id)
    return bool(mine)


def _note(a: Answer, receipt: Receipt, request: ReceiptRequest, kind: str, now: datetime,
          events: list[int], detail: dict[str, Any], *, key: str | None = None) -> bool:
    event = note_event(a.session, key=key or f"{kind}:{receipt.id}:{a.message.id}",
                       project_id=request.project_id, kind=kind, now=now,
                       request_id=request.id, receipt_id=receipt.id,
                       cause_message_pk=a.message.id, status_before=receipt.status,
                       status_after=receipt.status, detail=detail)
    if event is None:
        return False
    events.append(event)
    receipt.notes = [*receipt.notes, {"kind": kind, "message": a.message.message_id,
                                      "at": now.isoformat(), **detail}]
    receipt.updated_at = now
    return True


def _superseded(a: Answer, receipt: Receipt) -> bool:
    """Whether the receipt's latest answer came in after this message (mail out of order:
    an IMAP poll, a delayed relay): then this one is history, not the latest answer."""
    if receipt.answer_message_pk is None or receipt.answer_message_pk == a.message.id:
        return False
    latest = a.session.get(Message, receipt.answer_message_pk)
    return latest is not None and (latest.received_at, latest.id) > (a.message.received_at,
                                                                      a.message.id)


def _unverified(a: Answer, receipt: Receipt, request: ReceiptRequest, verdict: AuthVerdict,
                now: datetime, events: list[int]) -> None:
    """An answer that could not be authenticated: noted, for a person to settle."""
    p = a.parsed
    text = (f"(read receipt: {p.mdn.disposition or '?'})" if p.mdn is not None
            else p.own_text or "")
    detail = {"reasons": list(verdict.reasons), "text": text[:500],
              "message_id": a.message.message_id}
    if not _note(a, receipt, request, "unverified", now, events, detail):
        return
    if is_automated(p):
        return  # automated mail (a read receipt too): nothing to settle, nobody to tell
    receipt.needs_review = True
    if request.withdrawn_at is None:
        queue_unverified_notice(a.session, a.settings, a.project, receipt=receipt,
                                request=request, reply=a.message, own_text=text,
                                reasons=list(verdict.reasons), now=now)


def _apply_one(a: Answer, receipt: Receipt, request: ReceiptRequest, verdict: AuthVerdict,
               now: datetime, events: list[int]) -> None:
    p = a.parsed
    if verdict.forged:
        _note(a, receipt, request, "forged", now, events, {"reasons": list(verdict.reasons)})
        return
    if verdict.unverified:
        _unverified(a, receipt, request, verdict, now, events)
        return
    if p.mdn is not None:
        move(a.session, a.settings, a.project, receipt, request, to="read",
             cause=Cause.MDN, key=f"read:{receipt.id}:{a.message.id}", kind="read", now=now,
             events=events, detail={"mdn": p.mdn.disposition}, text="", message=a.message)
        return
    if p.auto_reply:
        _note(a, receipt, request, "auto_reply", now, events,
              {"reason": p.auto_reply_reason or "auto-reply"})
        return
    text = p.own_text or ""
    intent = read_intent(text)
    detail: dict[str, Any] = {"reading": intent.status, "reasons": intent.reasons,
                              "text": text[:500], "message_id": a.message.message_id}
    key = f"reply:{receipt.id}:{a.message.id}"
    if intent.status == "unclear":
        if _note(a, receipt, request, "unclear", now, events, detail, key=key):
            receipt.needs_review = True
            if request.withdrawn_at is None:
                queue_review_notice(a.session, a.settings, a.project,
                                    receipt=receipt, request=request, reply=a.message,
                                    own_text=text, now=now)
        return
    superseded = _superseded(a, receipt)
    if not superseded and move(a.session, a.settings, a.project, receipt, request,
                               to=intent.status, cause=Cause.REPLY, key=key, kind=intent.status,
                               now=now, events=events, detail=detail, text=text,
                               message=a.message):
        return
    # Read, but no move: the same answer again, a waived receipt, or an older mail.
    event = note_event(a.session, key=key, project_id=request.project_id, kind="reading",
                       now=now, request_id=request.id, receipt_id=receipt.id,
                       cause_message_pk=a.message.id, status_before=receipt.status,
                       status_after=receipt.status,
                       detail={**detail, **({"superseded": True} if superseded else {})})
    if event is not None:
        events.append(event)
        if not superseded:
            receipt.needs_review, receipt.updated_at = False, now
