"""The ``receipts`` stage, after ``record`` (policy 4.3): open receipts for a message that asks
for them; apply replies, read receipts and mail to signed reply addresses as answers.

The work is :func:`gateway.receipts.owing.take_receipts` (who owes a receipt, deadlines) and
:func:`gateway.receipts.answers.apply_answers` (what an answer does to a receipt), over plain
values: this adapter only unpacks the context. It runs only where the project's escalation is
enabled. The message's authentication verdict (:func:`auth_verdict`) is computed once, by this
stage or by ``notify``, whichever asks first, and kept on the context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.parse import ParsedMessage
from gateway.receipts.auth import AuthVerdict
from gateway.receipts.owing import authenticate, take_receipts

if TYPE_CHECKING:  # the pipeline imports the stages; the stages only name its Context
    from gateway.pipeline.context import Context


def auth_verdict(ctx: Context, parsed: ParsedMessage) -> AuthVerdict:
    """The message's authentication verdict, computed once by whichever stage asks first."""
    if ctx.auth is None:
        ctx.auth = authenticate(message=ctx.message, parsed=parsed, project=ctx.project,
                                raw=ctx.raw)
    return ctx.auth


def run(ctx: Context) -> None:
    """Answers first, then new receipts, for a project whose escalation is enabled."""
    if ctx.parsed is None or not ctx.project.escalation.enabled:
        return
    now = ctx.app.clock()
    c = ctx.classification
    take_receipts(ctx.session, ctx.app.settings, ctx.project, message=ctx.message,
                  parsed=ctx.parsed, thread_id=ctx.thread_id, record=ctx.record,
                  receipt_required=c is not None and c.receipt_required,
                  urgency=c.urgency if c is not None else "normal",
                  verdict=auth_verdict(ctx, ctx.parsed), now=now)
