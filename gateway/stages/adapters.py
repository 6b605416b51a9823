"""The pipeline's stage adapters: each calls its pure domain module and writes the result.

``parse`` → :mod:`gateway.parse`, ``thread`` → :mod:`gateway.thread` (+ its SQL adapter),
``classify`` → :mod:`gateway.classify.message`, ``record`` → :mod:`gateway.records`, ``receipts`` →
:mod:`gateway.receipts.owing`, ``notify`` → :mod:`gateway.notify.bounces`, ``reports`` →
:mod:`gateway.reports.special`, ``approvals`` → :mod:`gateway.reports.approval`,
``dingtalk`` → :mod:`gateway.connectors`. The order lives in
:mod:`gateway.pipeline`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from gateway.classify.message import Classification, classify, facts_from_parsed
from gateway.config.settings import ProjectConfig
from gateway.notify.bounces import notify_stage as notify_stage
from gateway.parse import ParsedMessage, parse_message
from gateway.parse.automated import is_automated
from gateway.records.edit import record_thread_lookup
from gateway.records.store import attach_automated, attach_to_record
from gateway.reports.special import report_stage as report_stage
from gateway.store.threads import assign_thread
from gateway.thread import evidence

if TYPE_CHECKING:
    from gateway.app import App
    from gateway.pipeline import Context


def parse_bounded(raw: bytes, text_max: int) -> tuple[ParsedMessage, str]:
    """Parse ``raw`` (raises Quarantine for what cannot be parsed safely); return it with the
    texts the later stages read cut to ``text_max`` characters (``text_stage_max``), and the
    whole own text, which is stored and searchable."""
    parsed = parse_message(raw)
    if max(len(parsed.own_text), len(parsed.text), len(parsed.quoted_text)) <= text_max:
        return parsed, parsed.own_text
    bounded = dataclasses.replace(parsed, own_text=parsed.own_text[:text_max],
                                  text=parsed.text[:text_max],
                                  quoted_text=parsed.quoted_text[:text_max])
    return bounded, parsed.own_text


def classify_parsed(app: App, project: ProjectConfig, parsed: Any) -> Classification:
    from gateway.records.corrections import model_for

    model = model_for(app.settings.data_dir, project)
    return classify(facts_from_parsed(parsed), project, model=model)


def parse_stage(ctx: Context) -> None:
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
    if ctx.classification is None:  # not classified before the transaction (a replay)
        ctx.classification = classify_parsed(ctx.app, ctx.project, ctx.parsed)


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
    from gateway.receipts.owing import receipts_stage as run

    run(ctx)


def approvals_stage(ctx: Context) -> None:
    """Issue 7: the owner's reply to a report draft — "同意发送"/"approve" sends the report."""
    from gateway.reports.approval import approval_stage

    approval_stage(ctx)
