"""The pipeline's stage adapters: each calls its pure domain module and writes the result.

``parse`` → :mod:`gateway.parse`, ``thread`` → :mod:`gateway.thread` (+ its SQL adapter),
``classify`` → :mod:`gateway.classify.message`, ``record`` → :mod:`gateway.records`, ``receipts`` →
:mod:`gateway.receipts.owing`, ``notify`` → :mod:`gateway.notify.bounces`, ``reports`` →
:mod:`gateway.reports.special`, ``approvals`` → :mod:`gateway.reports.approval`,
``dingtalk`` → :mod:`gateway.connectors`. The order lives in
:mod:`gateway.pipeline`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from gateway.addresses import person_key
from gateway.app import App
from gateway.classify.message import Classification, classify, facts_from_parsed
from gateway.config.settings import ProjectConfig
from gateway.connectors.outbox import queue_for_record
from gateway.notify.bounces import handle_bounce, suppress
from gateway.parse import ParsedMessage
from gateway.parse.automated import is_automated
from gateway.parse.message import parse_bounded
from gateway.receipts.auth import AuthVerdict
from gateway.receipts.owing import authenticate, known_people, take_receipts
from gateway.records.corrections import model_for
from gateway.records.edit import merge_records, record_thread_lookup
from gateway.records.store import attach_automated, attach_to_record
from gateway.reports.approval import answer_drafts
from gateway.reports.special import special_report
from gateway.store.threads import assign_thread
from gateway.thread import evidence

if TYPE_CHECKING:  # the pipeline imports the stages; the stages only name its Context
    from gateway.pipeline.context import Context


def classify_parsed(app: App, project: ProjectConfig, parsed: ParsedMessage) -> Classification:
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
    p = ctx.parsed_message()
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
        ctx.classification = classify_parsed(ctx.app, ctx.project, ctx.parsed_message())


def record_stage(ctx: Context) -> None:
    """A thread's record; automated mail (issue 16) only joins a record its thread already has:
    it never opens one, and never changes what the record is."""
    parsed = ctx.parsed_message()
    if is_automated(parsed):
        ctx.record = attach_automated(ctx.session, message=ctx.message, thread_id=ctx.thread_id)
        return
    ctx.record = attach_to_record(ctx.session, ctx.project, message=ctx.message, parsed=parsed,
                                  classification=ctx.classified(), thread_id=ctx.thread_id,
                                  merged_threads=ctx.merged_threads, merge=merge_records,
                                  now=ctx.app.clock())


def dingtalk_stage(ctx: Context) -> None:
    """Policy 4.4: a record that qualifies goes to the business-process system (DingTalk)."""
    # Mail imported with --history is the past: it is archived, not announced again; automated
    # mail (bounces, MDNs, auto-replies) is never announced.
    if (ctx.record is not None and ctx.project.connectors.sinks and not ctx.message.history
            and not is_automated(ctx.parsed_message())):
        queue_for_record(ctx.session, project=ctx.project, record=ctx.record,
                         now=ctx.app.clock())


def auth_verdict(ctx: Context, parsed: ParsedMessage) -> AuthVerdict:
    """The message's authentication verdict, computed once by whichever stage asks first."""
    if ctx.auth is None:
        ctx.auth = authenticate(message=ctx.message, parsed=parsed, project=ctx.project,
                                raw=ctx.raw)
    return ctx.auth


def receipts_stage(ctx: Context) -> None:
    """Policy 4.3: open receipts for a message that asks for them; count replies and MDNs."""
    if ctx.parsed is None or not ctx.project.escalation.enabled:
        return
    now = ctx.app.clock()
    c = ctx.classification
    take_receipts(ctx.session, ctx.app.settings, ctx.project, message=ctx.message,
                  parsed=ctx.parsed, thread_id=ctx.thread_id, record=ctx.record,
                  receipt_required=c is not None and c.receipt_required,
                  urgency=c.urgency if c is not None else "normal",
                  verdict=auth_verdict(ctx, ctx.parsed), now=now)


def notify_stage(ctx: Context) -> None:
    """Suppression and bounce handling for automated mail (gateway/notify/bounces.py)."""
    parsed, message = ctx.parsed, ctx.message
    now = ctx.app.clock()
    if parsed is None or not is_automated(parsed):
        return
    # Members, stakeholders and department interface persons are never suppressed, and a
    # forged "Automatic reply" silences nobody: only verified automated senders are.
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


def report_stage(ctx: Context) -> None:
    """A special report for a record that became an urgent incident or a risk — never on
    automated mail (a bounce or auto-reply pages nobody, issue 16)."""
    if ctx.record is not None and not is_automated(ctx.parsed_message()):
        special_report(ctx.app, ctx.session, project=ctx.project, record=ctx.record,
                       now=ctx.app.clock())


def approvals_stage(ctx: Context) -> None:
    """Issue 7: the owner's reply to a report draft — "同意发送"/"approve" sends the report."""
    if ctx.parsed is None:
        return
    answer_drafts(ctx.app, ctx.session, ctx.project, message=ctx.message, parsed=ctx.parsed,
                  raw=ctx.raw, now=ctx.app.clock())
