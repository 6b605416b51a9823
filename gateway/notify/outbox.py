"""The outbox: every outbound mail is first a row, then a job delivers it exactly once per row.

``queue`` stores the rendered bytes and envelope under a unique idempotency key (the caller's:
e.g. ``reminder:<receipt>:<level>``), so running a job twice queues one mail. ``deliver_due``
claims due rows one by one with a conditional UPDATE (``queued/retry → sending`` with a lease
and a fresh lease token) so two workers never send the same row, hands the bytes to the
transport outside any transaction, then records each recipient's outcome — but only if it still
holds the lease (``WHERE lease_token = ours``).

At-least-once edge: if the process dies after the relay's ``250`` and before our commit, the
row's lease expires and it is sent again. The copy carries the same Message-ID, so the receiving
MUA (and our own intake) recognises the duplicate; this is the accepted residue of having no
two-phase commit with SMTP.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.addresses import normalize_address
from gateway.config.settings import Outbound
from gateway.errors import OutboxBusy, RelayUnavailable
from gateway.notify.transport import Reply, Transport, make_transport
from gateway.store.db import unit_of_work
from gateway.store.models import Project
from gateway.store.notify_models import OutboxMail, OutboxRecipient, Suppression

if TYPE_CHECKING:
    from gateway.app import App

log = logging.getLogger(__name__)

# Mail kinds that are never held back by a suppression: the receipt ladder itself.
NEVER_SUPPRESSED = frozenset({"reminder", "escalation"})

DUE_STATES = ("queued", "retry")


def queue(session: Session, *, project_id: int, kind: str, idempotency_key: str,
          message: EmailMessage, recipients: Sequence[str], record_id: int | None = None,
          receipt_id: int | None = None, now: datetime, author: str = "") -> OutboxMail:
    """Store ``message`` for delivery to ``recipients``; the existing row if the key is known.

    Suppressed addresses (they sent verified automated mail, gateway/notify/bounces.py) are
    recorded but not sent to while the suppression lasts — except reminders and escalations,
    which are never held back.
    """
    existing = _by_key(session, idempotency_key)
    if existing is not None:
        return existing
    project = session.get_one(Project, project_id)
    del message["Bcc"]  # never in the bytes we hand over (RFC 5322 §3.6.3)
    if message["Date"] is None:
        zone = getattr(message, "zone", None)  # OutboundMessage: the project's time zone
        message["Date"] = format_datetime(now.astimezone(zone) if zone else now)
    message_id = str(message["Message-ID"] or "").strip()
    if not message_id:
        raise ValueError("compose() sets the Message-ID; this message has none")
    addresses = list(dict.fromkeys(normalize_address(r) for r in recipients))
    suppressed: set[str] = set()
    if kind not in NEVER_SUPPRESSED:
        suppressed = set(session.scalars(select(Suppression.address).where(
            Suppression.project_id == project_id, Suppression.address.in_(addresses),
            or_(Suppression.expires_at.is_(None), Suppression.expires_at > now))))
    mail = OutboxMail(project_id=project_id, kind=kind, idempotency_key=idempotency_key,
                      message_id=message_id, subject=str(message["Subject"] or ""),
                      envelope_from=project.address, author=author,
                      automated=message["Auto-Submitted"] is not None,
                      raw=message.as_bytes(policy=SMTP), record_id=record_id,
                      receipt_id=receipt_id, state="queued", next_attempt_at=now,
                      created_at=now, updated_at=now)
    for address in addresses:
        blocked = address in suppressed
        mail.recipients.append(OutboxRecipient(
            project_id=project_id, address=address, created_at=now, updated_at=now,
            state="suppressed" if blocked else "pending",
            error="sent automated mail (RFC 3834): no automatic answers for now"
            if blocked else None))
    if not any(r.state == "pending" for r in mail.recipients):
        mail.state, mail.last_error = "failed", "no deliverable recipient"
    try:
        with session.begin_nested():
            session.add(mail)
    except IntegrityError:  # another session queued the same key first
        raced = _by_key(session, idempotency_key)
        if raced is None:
            raise
        return raced
    log.info("%s queued as outbox %d (%s, %d recipient(s))", message_id, mail.id, kind,
             len(addresses))
    return mail


def _by_key(session: Session, key: str) -> OutboxMail | None:
    return session.scalars(select(OutboxMail).where(OutboxMail.idempotency_key == key)
                           ).one_or_none()


def backoff(cfg: Outbound, attempts: int) -> timedelta:
    """Exponential back-off: base · 2^(attempts-1), capped."""
    seconds = cfg.retry_base_seconds * 2 ** max(0, min(attempts - 1, 30))
    return timedelta(seconds=min(seconds, cfg.retry_max_seconds))


def due_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    return list(session.scalars(
        select(OutboxMail.id).where(or_(
            (OutboxMail.state.in_(DUE_STATES)) & (OutboxMail.next_attempt_at <= now),
            (OutboxMail.state == "sending") & (OutboxMail.lease_until < now)))
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id).limit(limit)))


def claim(app: App, outbox_id: int, *, now: datetime) -> str | None:
    """Take the row for delivery (conditional UPDATE); the lease token, or None if taken."""
    token = secrets.token_hex(16)
    lease = timedelta(seconds=app.settings.gateway.outbound.lease_seconds)
    with unit_of_work(app.sessions) as session:
        result = session.execute(
            update(OutboxMail)
            .where(OutboxMail.id == outbox_id, or_(
                (OutboxMail.state.in_(DUE_STATES)) & (OutboxMail.next_attempt_at <= now),
                (OutboxMail.state == "sending") & (OutboxMail.lease_until < now)))
            .values(state="sending", lease_until=now + lease, lease_token=token,
                    attempts=OutboxMail.attempts + 1, updated_at=now))
        return token if result.rowcount == 1 else None  # type: ignore[attr-defined]


# Reminders and escalations have their own hourly allowance per recipient: mail that anyone can
# cause (a spoofed sender's notices, auto-reply storms) never uses up the allowance that a
# manager's escalation needs.
CHASE_KINDS = ("reminder", "escalation")


def _rate_waits(session: Session, mail: OutboxMail, addresses: list[str], *, limit: int,
                now: datetime) -> dict[str, datetime]:
    """Addresses that already got ``limit`` mails of this mail's allowance (reminders and
    escalations, or everything else) from this project in the last hour, each with the time
    the next one may go: when the oldest of those ``limit`` mails leaves the hour."""
    if limit <= 0 or not addresses:
        return {}
    chase = OutboxMail.kind.in_(CHASE_KINDS)
    rows = session.execute(
        select(OutboxRecipient.address, OutboxRecipient.updated_at)
        .join(OutboxMail, OutboxMail.id == OutboxRecipient.outbox_id)
        .where(OutboxRecipient.project_id == mail.project_id,
               OutboxRecipient.address.in_(addresses), OutboxRecipient.state == "sent",
               OutboxRecipient.updated_at > now - WINDOW,
               chase if mail.kind in CHASE_KINDS else ~chase)
        .order_by(OutboxRecipient.updated_at.desc()))
    sent: dict[str, list[datetime]] = {}
    for address, at in rows:
        sent.setdefault(address, []).append(at)
    return {address: times[limit - 1] + WINDOW for address, times in sent.items()
            if len(times) >= limit}


WINDOW = timedelta(hours=1)


def deliver_one(app: App, outbox_id: int, *, now: datetime, transport: Transport) -> str:
    """Claim, send and record one row; return its new state ("taken" if another worker has it)."""
    token = claim(app, outbox_id, now=now)
    if token is None:
        return "taken"
    cfg = app.settings.gateway.outbound
    with unit_of_work(app.sessions) as session:
        mail = session.get_one(OutboxMail, outbox_id)
        pending = [r.address for r in mail.recipients if r.state == "pending"]
        limited = _rate_waits(session, mail, pending, limit=cfg.rate_limit_per_recipient,
                              now=now)
        send_to = [a for a in pending if a not in limited]
        envelope_from, raw, message_id = mail.envelope_from, mail.raw, mail.message_id
    replies: dict[str, Reply] = {}
    unavailable: str | None = None
    if send_to:
        try:
            replies = transport.send(envelope_from=envelope_from, recipients=send_to, raw=raw,
                                     key=str(outbox_id))
        except RelayUnavailable as exc:
            unavailable = str(exc)
    state = _record(app, outbox_id, token, replies, unavailable, limited, now=now)
    log.info("%s outbox %d: %s", message_id, outbox_id, state)
    if unavailable is not None:
        raise RelayUnavailable(unavailable)
    return state


def _record(app: App, outbox_id: int, token: str, replies: dict[str, Reply],
            unavailable: str | None, limited: dict[str, datetime], *, now: datetime) -> str:
    cfg = app.settings.gateway.outbound
    with unit_of_work(app.sessions) as session:
        mail = session.get_one(OutboxMail, outbox_id, with_for_update=True)
        if mail.lease_token != token or mail.state != "sending":
            log.warning("outbox %d: lease lost while sending; the new holder records it",
                        outbox_id)
            return "lease-lost"
        errors: list[str] = []
        for rcpt in mail.recipients:
            reply = replies.get(rcpt.address)
            if rcpt.state == "pending" and rcpt.address in limited:
                # Deferred, never dropped: it waits for the next window (a mail loop is slowed
                # to the limit, a real escalation still arrives).
                rcpt.updated_at = now
                rcpt.error = (f"per-recipient rate limit reached: waits until "
                              f"{limited[rcpt.address]:%Y-%m-%d %H:%M} UTC")
                errors.append(f"{rcpt.address}: rate limit")
                continue
            if rcpt.state != "pending" or reply is None:
                continue
            rcpt.updated_at = now
            if reply.accepted:
                rcpt.state, rcpt.error = "sent", None
            elif reply.permanent:
                rcpt.state, rcpt.error = "failed", f"{reply.code} {reply.text}"
                errors.append(f"{rcpt.address}: {reply.code} {reply.text}")
            else:
                rcpt.error = f"{reply.code} {reply.text}"
                errors.append(f"{rcpt.address}: {reply.code} {reply.text}")
        if unavailable is not None:
            errors.append(unavailable)
        still = [r for r in mail.recipients if r.state == "pending"]
        # Only a failing relay gives up; waiting for a rate-limit window is not failing.
        gave_up = now - mail.created_at >= timedelta(hours=cfg.give_up_after_hours) and any(
            r.address not in limited for r in still)
        if still and gave_up:
            for rcpt in still:
                rcpt.state, rcpt.updated_at = "failed", now
                rcpt.error = f"gave up after {mail.attempts} attempts: {rcpt.error or ''}"
            still = []
        if still:
            waits = [limited[r.address] for r in still if r.address in limited]
            others = [r for r in still if r.address not in limited]
            mail.state = "retry"
            mail.next_attempt_at = min(
                [*waits, *([now + backoff(cfg, mail.attempts)] if others else [])])
        elif any(r.state == "sent" for r in mail.recipients):
            mail.state, mail.sent_at = "sent", mail.sent_at or now
        else:
            mail.state = "failed"
        mail.last_error = "; ".join(errors)[:4000] or None
        mail.lease_until, mail.lease_token, mail.updated_at = None, None, now
        return mail.state


def deliver_due(app: App, *, now: datetime, limit: int = 100,
                transport: Transport | None = None) -> int:
    """Deliver every due row (at most ``limit``); return how many reached ``sent``.

    When the relay cannot be reached the batch stops: the rows stay due, nothing is lost.
    """
    transport = transport or make_transport(app.settings)
    with unit_of_work(app.sessions) as session:
        ids = due_ids(session, now=now, limit=limit)
    sent = 0
    for outbox_id in ids:
        try:
            state = deliver_one(app, outbox_id, now=now, transport=transport)
        except RelayUnavailable as exc:
            log.warning("relay unavailable (%s); %d mail(s) wait for the next sweep", exc,
                        len(ids) - ids.index(outbox_id))
            break
        sent += state == "sent"
    return sent


def retry(session: Session, outbox_id: int, *, now: datetime) -> OutboxMail:
    """Put a failed (or waiting) row back in the queue now; failed recipients get another try."""
    mail = session.get_one(OutboxMail, outbox_id)
    if mail.state == "sending":
        raise OutboxBusy(f"outbox {outbox_id} is being sent right now")
    for rcpt in mail.recipients:
        if rcpt.state in ("failed", "limited"):
            rcpt.state, rcpt.updated_at = "pending", now
    if any(r.state == "pending" for r in mail.recipients):
        mail.state, mail.next_attempt_at, mail.updated_at = "queued", now, now
    return mail
