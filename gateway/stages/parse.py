"""The ``parse`` stage, first in ``STAGES`` (gateway/pipeline/__init__.py): raw bytes → the
message row's columns and flags.

The read-only phase before the write transaction usually parsed the message already
(``ctx.parsed``, or ``ctx.refused`` for mail that cannot be parsed safely, raised again here so
the flow is the same); a replay parses it here. The pure work is
:func:`gateway.parse.message.parse_bounded`; this adapter writes what it found onto the
:class:`~gateway.store.models.Message` row: headers, the whole own text (stored and searchable in
full, even when the later stages read a prefix), and the automated-mail flags the later stages
and the views read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.parse.message import parse_bounded

if TYPE_CHECKING:  # the pipeline imports the stages; the stages only name its Context
    from gateway.pipeline.context import Context

MAX_DEFECTS = 20  # defects kept in the message's flags: enough to see what was wrong


def run(ctx: Context) -> None:
    """Parse (unless the read-only phase did) and fill the message row."""
    if ctx.refused is not None:  # the read-only phase found it cannot be parsed safely
        raise ctx.refused
    if ctx.parsed is None:
        ctx.parsed, ctx.full_own_text = parse_bounded(ctx.raw,
                                                      ctx.app.settings.gateway.text_stage_max)
    parsed = ctx.parsed
    m = ctx.message
    m.subject = parsed.subject
    m.from_addr = parsed.from_addr
    m.from_name = parsed.from_name[:256]
    m.to_addrs = [addr for _name, addr in parsed.to]
    m.cc_addrs = [addr for _name, addr in parsed.cc]
    m.sent_at = parsed.date
    m.own_text = ctx.full_own_text or parsed.own_text  # stored and searchable in full
    flags: dict[str, object] = {}
    if parsed.auto_reply:
        flags["auto_reply"] = parsed.auto_reply_reason or True
    if parsed.bounce is not None:
        flags["bounce"] = {"failed_recipients": list(parsed.bounce.failed_recipients),
                           "permanent": parsed.bounce.permanent}
    if parsed.mdn is not None:
        flags["mdn"] = {"original_message_id": parsed.mdn.original_message_id}
    if parsed.defects:
        flags["defects"] = list(parsed.defects)[:MAX_DEFECTS]
    m.flags = {**m.flags, **flags}
