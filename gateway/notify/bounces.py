"""What comes back: bounces mark the outbox row, automated senders go on the suppression list.

The parse stage recognises DSNs (RFC 3464: ``ParsedMessage.bounce``) and automatic replies
(RFC 3834 ``Auto-Submitted``, ``Precedence: bulk``, vacation notices). :func:`notify_stage`, a
pipeline stage after ``record``, then

- suppresses the sender of any automated mail, so the gateway never answers it (no loops);
- for a bounce, marks the outbox row and the failed recipients (:func:`record_bounce`) — a
  receipt's public status does not change, the flag lives on the outbox row — and tells the
  mail's author (or the project manager for gateway mail) by a mail of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.addresses import try_normalize
from gateway.store.notify_models import OutboxMail, Suppression

if TYPE_CHECKING:
    from gateway.app import App
    from gateway.pipeline import Context

log = logging.getLogger(__name__)


def suppress(session: Session, *, project_id: int, address: str, reason: str,
             now: datetime) -> bool:
    """Never write to ``address`` again in this project; False if it was already suppressed."""
    canonical = try_normalize(address)
    if canonical is None:
        return False
    exists = session.scalars(select(Suppression.id).where(
        Suppression.project_id == project_id, Suppression.address == canonical)).first()
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Suppression(project_id=project_id, address=canonical,
                                    reason=reason[:1000], created_at=now))
    except IntegrityError:  # suppressed by a concurrent session
        return False
    log.info("%s suppressed: %s", canonical, reason)
    return True


def is_suppressed(session: Session, *, project_id: int, address: str) -> bool:
    canonical = try_normalize(address) or address
    return session.scalars(select(Suppression.id).where(
        Suppression.project_id == project_id, Suppression.address == canonical)
    ).first() is not None


def record_bounce(session: Session, *, original_message_id: str,
                  failed_recipients: Sequence[str], now: datetime) -> list[OutboxMail]:
    """Mark the outbox rows that sent ``original_message_id`` as bounced; return them.

    Each failed recipient's row becomes ``bounced``; with no recipient named (a heuristic
    bounce), only the mail is flagged. Running it twice changes nothing more.
    """
    wanted = original_message_id.strip()
    if not wanted.startswith("<"):
        wanted = f"<{wanted}>"
    rows = list(session.scalars(select(OutboxMail).where(OutboxMail.message_id == wanted)))
    failed = {try_normalize(a) or a.lower() for a in failed_recipients}
    for mail in rows:
        mail.bounced, mail.updated_at = True, now
        for rcpt in mail.recipients:
            if rcpt.address in failed and rcpt.state != "bounced":
                rcpt.state, rcpt.updated_at = "bounced", now
                rcpt.error = "bounced (delivery status notification received)"
    if rows:
        log.info("%s bounced for %s", wanted, ", ".join(sorted(failed)) or "(unnamed)")
    return rows


def notify_stage(ctx: Context) -> None:
    """Pipeline stage (after ``record``): suppression and bounce handling for one message."""
    parsed, message = ctx.parsed, ctx.message
    now = ctx.app.clock()
    if parsed is None:
        return
    automated = parsed.auto_reply or parsed.bounce is not None
    if automated and parsed.from_addr:
        suppress(ctx.session, project_id=message.project_id, address=parsed.from_addr,
                 reason=f"automated mail {message.message_id}", now=now)
    bounce = parsed.bounce
    if bounce is None or not bounce.original_message_id:
        return
    rows = record_bounce(ctx.session, original_message_id=bounce.original_message_id,
                         failed_recipients=bounce.failed_recipients, now=now)
    for mail in rows:
        tell_sender(ctx.app, ctx.session, mail, list(bounce.failed_recipients), now=now)


def tell_sender(app: App, session: Session, mail: OutboxMail, failed: list[str], *,
                now: datetime) -> OutboxMail | None:
    """Queue one mail to the author of ``mail`` saying who it did not reach."""
    from gateway.notify.system import send_system_notice
    from gateway.store.models import Project

    project = app.settings.project(session.get_one(Project, mail.project_id).code)
    pm = project.members_with("project_manager")[0].email
    author = mail.author or pm
    return send_system_notice(
        app, session, project=project, kind="bounce", to=[author],
        fields={"subject": mail.subject, "message_id": mail.message_id,
                "failed": failed or ["?"], "sent_at": mail.sent_at},
        idempotency_key=f"bounce:{mail.id}:{','.join(sorted(failed))}"[:255],
        record_id=mail.record_id, references=[mail.message_id], now=now)
