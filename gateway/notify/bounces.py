"""What comes back: bounces mark the outbox recipient, verified automated senders get no answers.

The parse stage recognises DSNs (RFC 3464: ``ParsedMessage.bounce``, and the common prose
bounces of qmail, Exchange and others) and automatic replies (RFC 3834 ``Auto-Submitted``,
``Precedence: bulk``, vacation notices, MDNs). The ``notify`` stage (gateway/stages/notify.py),
after ``receipts``, then

- puts the sender of *verified* automated mail (gateway/receipts/auth.py) on the suppression list
for
  ``[outbound] suppression_days`` (default 7): no automatic answers go there meanwhile
  (no mail loops). Never a project member, stakeholder or department interface person, and never
  for reminders and escalations to a receipt holder (gateway/notify/outbox.py) — a forged
  "Automatic reply" silences nobody. ``commgate suppressions list|lift`` shows and lifts them;
- for a bounce, finds the outbox recipient it reports on — by the returned Message-ID
  (``message/rfc822`` or ``text/rfc822-headers`` part, ``Original-Message-ID``, a
  ``Message-ID:`` line of the returned copy) and the failed address (``Final-Recipient``,
  ``X-Failed-Recipients``, the prose), or failing an id, the latest mail sent to that address —
  and notes it (:func:`handle_bounce` → :func:`record_bounce`: state ``bounced`` with the
  reason; a temporary failure only notes the reason). A receipt's status never changes; the
  mail's author (or the project manager for gateway mail) is told by a mail of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.addresses import try_normalize
from gateway.notify.system import send_system_notice
from gateway.parse.model import Bounce
from gateway.store.models import Project
from gateway.store.notify_models import OutboxMail, OutboxRecipient, Suppression

if TYPE_CHECKING:
    from gateway.app import App

log = logging.getLogger(__name__)

# A bounce naming no Message-ID is matched to mail sent to the failed address this recently.
UNNAMED_WINDOW = timedelta(days=3)


def suppress(session: Session, *, project_id: int, address: str, reason: str,
             now: datetime, until: datetime | None = None) -> bool:
    """No automatic answers to ``address`` in this project until ``until`` (None: until lifted).

    An existing suppression is extended, never shortened; False if nothing new was suppressed."""
    canonical = try_normalize(address)
    if canonical is None:
        return False
    existing = session.scalars(select(Suppression).where(
        Suppression.project_id == project_id, Suppression.address == canonical)).first()
    if existing is not None:
        active = existing.expires_at is None or _aware(existing.expires_at) > now
        if existing.expires_at is not None and (until is None or _aware(existing.expires_at)
                                                < until):
            existing.expires_at, existing.reason = until, reason[:1000]
        return not active
    try:
        with session.begin_nested():
            session.add(Suppression(project_id=project_id, address=canonical,
                                    reason=reason[:1000], created_at=now, expires_at=until))
    except IntegrityError:  # suppressed by a concurrent session
        return False
    log.info("%s suppressed until %s: %s", canonical, until.isoformat() if until else "lifted",
             reason)
    return True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def active_suppressions(session: Session, *, project_id: int, now: datetime,
                        addresses: Sequence[str] | None = None) -> list[Suppression]:
    """Suppressions in force at ``now`` (optionally only for ``addresses``)."""
    query = select(Suppression).where(
        Suppression.project_id == project_id,
        or_(Suppression.expires_at.is_(None), Suppression.expires_at > now))
    if addresses is not None:
        query = query.where(Suppression.address.in_(list(addresses)))
    return list(session.scalars(query.order_by(Suppression.address)))


def is_suppressed(session: Session, *, project_id: int, address: str,
                  now: datetime) -> bool:
    canonical = try_normalize(address) or address
    return bool(active_suppressions(session, project_id=project_id, now=now,
                                    addresses=[canonical]))


def lift(session: Session, *, project_id: int, address: str) -> bool:
    """Remove the suppression of ``address``; False if there was none."""
    canonical = try_normalize(address) or address.strip().lower()
    rows = list(session.scalars(select(Suppression).where(
        Suppression.project_id == project_id, Suppression.address == canonical)))
    for row in rows:
        session.delete(row)
    return bool(rows)


def bounce_reason(bounce: Bounce) -> str:
    kind = "permanent" if bounce.permanent else "temporary"
    status = f" {bounce.status}" if bounce.status else ""
    return f"bounced ({kind}{status}, delivery status notification received)"


def record_bounce(session: Session, *, original_message_id: str | None,
                  failed_recipients: Sequence[str], now: datetime, project_id: int | None = None,
                  reason: str = "bounced (delivery status notification received)",
                  permanent: bool = True) -> list[OutboxMail]:
    """Note the bounce on the outbox recipients it reports on; return the mails concerned.

    With ``original_message_id``, the mails that carried it; without, the latest mail of the
    project sent to each failed address within :data:`UNNAMED_WINDOW`. A permanent failure makes
    the recipient ``bounced``; a temporary one only notes the reason. Running it twice changes
    nothing more."""
    failed = {try_normalize(a) or a.lower() for a in failed_recipients}
    rows: list[OutboxMail] = []
    if original_message_id:
        wanted = original_message_id.strip()
        if not wanted.startswith("<"):
            wanted = f"<{wanted}>"
        rows = list(session.scalars(select(OutboxMail).where(OutboxMail.message_id == wanted)))
    elif failed and project_id is not None:
        for address in sorted(failed):
            latest = session.scalars(
                select(OutboxMail).join(OutboxRecipient)
                .where(OutboxMail.project_id == project_id, OutboxRecipient.address == address,
                       OutboxRecipient.state == "sent",
                       OutboxMail.sent_at >= now - UNNAMED_WINDOW)
                .order_by(OutboxMail.sent_at.desc(), OutboxMail.id.desc())).first()
            if latest is not None and latest not in rows:
                rows.append(latest)
    matched: list[OutboxMail] = []
    for mail in rows:
        hit = [r for r in mail.recipients if r.address in failed]
        if not hit and failed and not original_message_id:
            continue
        matched.append(mail)
        if permanent:
            mail.bounced, mail.updated_at = True, now
        for rcpt in hit:
            if permanent and rcpt.state != "bounced":
                rcpt.state, rcpt.updated_at, rcpt.error = "bounced", now, reason[:1000]
            elif not permanent and rcpt.error != reason:
                rcpt.updated_at, rcpt.error = now, reason[:1000]
    if matched:
        log.info("%s bounced for %s", ", ".join(m.message_id for m in matched),
                 ", ".join(sorted(failed)) or "(unnamed)")
    return matched


def handle_bounce(app: App, session: Session, *, bounce: Bounce, project_id: int,
                  now: datetime) -> list[OutboxMail]:
    """Note a bounce on the outbox mail it reports on and, for a permanent failure of this
    project's mail, tell its author; return the mails concerned. Running it twice changes
    nothing more."""
    rows = record_bounce(session, original_message_id=bounce.original_message_id,
                         failed_recipients=bounce.failed_recipients, now=now,
                         project_id=project_id, reason=bounce_reason(bounce),
                         permanent=bounce.permanent)
    for mail in rows:
        if bounce.permanent and mail.project_id == project_id:
            tell_sender(app, session, mail, list(bounce.failed_recipients), now=now)
    return rows


def tell_sender(app: App, session: Session, mail: OutboxMail, failed: list[str], *,
                now: datetime) -> OutboxMail | None:
    """Queue one mail to the author of ``mail`` saying who it did not reach."""
    project = app.settings.project(session.get_one(Project, mail.project_id).code)
    pm = project.members_with("project_manager")[0].email
    author = mail.author or pm
    return send_system_notice(
        app, session, project=project, kind="bounce", to=[author],
        fields={"subject": mail.subject, "message_id": mail.message_id,
                "failed": failed or ["?"], "sent_at": mail.sent_at},
        idempotency_key=f"bounce:{mail.id}:{','.join(sorted(failed))}"[:255],
        record_id=mail.record_id, references=[mail.message_id], now=now)
