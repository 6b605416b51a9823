"""The pipeline's stage adapters: each calls its pure domain module and writes the result.

``parse`` → :mod:`gateway.parse`, ``thread`` → :mod:`gateway.thread` (+ its SQL adapter),
``classify`` → :mod:`gateway.classify`, ``record`` → :mod:`gateway.records`, ``receipts`` →
:mod:`gateway.receipts`, ``notify`` → :mod:`gateway.notify.bounces`, ``reports`` →
:mod:`gateway.reports.special`, ``approvals`` → :mod:`gateway.reports.approval`,
``dingtalk`` → :mod:`gateway.connectors`. The order lives in
:mod:`gateway.pipeline`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.classify import classify, facts_from_parsed
from gateway.notify.bounces import notify_stage as notify_stage
from gateway.parse import parse_message
from gateway.parse.automated import is_automated
from gateway.records.edit import record_thread_lookup
from gateway.records.store import attach_automated, attach_to_record
from gateway.reports.special import report_stage as report_stage
from gateway.store.threads import assign_thread
from gateway.thread import evidence

if TYPE_CHECKING:
    from gateway.pipeline import Context


def parse_stage(ctx: Context) -> None:
    parsed = parse_message(ctx.raw)  # raises Quarantine for what cannot be parsed safely
    ctx.parsed = parsed
    m = ctx.message
    m.subject = parsed.subject
    m.from_addr = parsed.from_addr
    m.from_name = parsed.from_name[:256]
    m.to_addrs = [addr for _name, addr in parsed.to]
    m.cc_addrs = [addr for _name, addr in parsed.cc]
    m.sent_at = parsed.date
    m.own_text = parsed.own_text
    flags: dict[str, object] = {}
    if parsed.auto_reply:
        flags["auto_reply"] = parsed.auto_reply_reason or True
    if parsed.bounce is not None:
        flags["bounce"] = {"failed_recipients": list(parsed.bounce.failed_recipients),
                           "permanent": parsed.bounce.permanent}
    if parsed.mdn is not None:
        flags["mdn"] = {"original_message_id": parsed.mdn.original_message_id}
    if parsed.defects:
        flags["defects"] = list(parsed.defects)[:20]
    m.flags = {**m.flags, **flags}


def thread_stage(ctx: Context) -> None:
    p = ctx.parsed
    ev = evidence(message_id=ctx.message.message_id, in_reply_to=p.in_reply_to,
                  references=p.references, subject=p.subject, date=p.date,
                  thread_index=p.thread_index, thread_topic=p.thread_topic,
                  project_code=ctx.project.code)
    assignment = assign_thread(
        ctx.session, project_id=ctx.message.project_id, evidence=ev, now=ctx.app.clock(),
        record_thread=record_thread_lookup(ctx.session, ctx.message.project_id))
    ctx.thread_id = assignment.thread_id
    ctx.merged_threads = list(assignment.merged)
    ctx.message.thread_id = assignment.thread_id


def classify_stage(ctx: Context) -> None:
    from gateway.classify_corrections import model_for

    model = model_for(ctx.app.settings.data_dir, ctx.project)
    ctx.classification = classify(facts_from_parsed(ctx.parsed), ctx.project, model=model)


def record_stage(ctx: Context) -> None:
    """A thread's record; automated mail (issue 16) only joins a record its thread already has:
    it never opens one, and never changes what the record is."""
    if is_automated(ctx.parsed):
        ctx.record = attach_automated(ctx)
        return
    ctx.record = attach_to_record(ctx)


def dingtalk_stage(ctx: Context) -> None:
    """Policy 4.4: a record that qualifies goes to the business-process system (DingTalk)."""
    from gateway.connectors.outbox import queue_for_record

    # Mail imported with --history is the past: it is archived, not announced again; automated
    # mail (bounces, MDNs, auto-replies) is never announced.
    if (ctx.record is not None and ctx.project.connectors.sinks and not ctx.message.history
            and not is_automated(ctx.parsed)):
        queue_for_record(ctx.session, project=ctx.project, record=ctx.record,
                         now=ctx.app.clock())


def receipts_stage(ctx: Context) -> None:
    """Policy 4.3: open receipts for a message that asks for them; count replies and MDNs."""
    from gateway.receipts import receipts_stage as run

    run(ctx)


def approvals_stage(ctx: Context) -> None:
    """Issue 7: the owner's reply to a report draft — "同意发送"/"approve" sends the report."""
    from gateway.reports.approval import approval_stage

    approval_stage(ctx)
