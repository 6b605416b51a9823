"""The ``notify`` stage, after ``receipts``: what comes back — automated mail and bounces
(gateway/notify/bounces.py).

For automated mail only (RFC 3834 auto-replies, RFC 3464 bounces, RFC 8098 MDNs):

- its sender is put on the suppression list for ``[outbound] suppression_days`` (no mail loops),
  but only when the mail is *verified* (a forged "Automatic reply" silences nobody, issue 16),
  and never a project member, stakeholder or department interface person;
- a bounce is noted on the outbox mail it reports on, and a permanent failure of this project's
  mail is told to its author (:func:`gateway.notify.bounces.handle_bounce`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from gateway.addresses import person_key
from gateway.notify.bounces import handle_bounce, suppress
from gateway.parse.automated import is_automated
from gateway.receipts.owing import known_people
from gateway.stages.receipts import auth_verdict

if TYPE_CHECKING:  # the pipeline imports the stages; the stages only name its Context
    from gateway.pipeline.context import Context


def run(ctx: Context) -> None:
    """Suppress a verified automated sender; note a bounce and tell who sent the mail."""
    parsed, message = ctx.parsed, ctx.message
    now = ctx.app.clock()
    if parsed is None or not is_automated(parsed):
        return
    sender = parsed.from_addr
    if (sender and person_key(sender) not in known_people(ctx.project)
            and auth_verdict(ctx, parsed).verified):
        days = ctx.app.settings.gateway.outbound.suppression_days
        suppress(ctx.session, project_id=message.project_id, address=sender,
                 reason=f"automated mail {message.message_id}", now=now,
                 until=now + timedelta(days=days))
    if parsed.bounce is not None:
        handle_bounce(ctx.app, ctx.session, bounce=parsed.bounce,
                      project_id=message.project_id, now=now)
