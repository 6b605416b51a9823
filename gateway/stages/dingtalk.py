"""The ``dingtalk`` stage, last in ``STAGES`` (policy 4.4): a record that qualifies goes to the
business-process system — DingTalk, or a JSON webhook (gateway/connectors/).

:func:`gateway.connectors.outbox.queue_for_record` matches the record against the project's
``[connectors]`` sinks and queues one delivery row per matching sink, in the message's
transaction (a reply that qualifies again adds nothing); the scheduler's passes deliver them
later and retry until they are taken. Mail imported with ``--history`` is the past: it
is archived, not announced again; automated mail (bounces, MDNs, auto-replies) is never
announced; a project without sinks queues nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.connectors.outbox import queue_for_record
from gateway.parse.automated import is_automated

if TYPE_CHECKING:  # the pipeline imports the stages; the stages only name its Context
    from gateway.pipeline.context import Context


def run(ctx: Context) -> None:
    """Queue the record for the project's business-process sinks, if it qualifies."""
    if (ctx.record is not None and ctx.project.connectors.sinks and not ctx.message.history
            and not is_automated(ctx.parsed_message())):
        queue_for_record(ctx.session, project=ctx.project, record=ctx.record,
                         now=ctx.app.clock())
