"""The processing pipeline: the order of stages, and the driver that keeps anything from being lost.

    stored message ─▶ parse ─▶ thread ─▶ classify ─▶ record ─▶ receipts ─▶ notify ─▶ reports
                                                                    ─▶ approvals ─▶ dingtalk

Each stage is a function ``(Context) -> None`` (the typed context of
gateway/pipeline/context.py) in the module named after it; :data:`STAGES` is the one place their
order is declared. The driver runs them in one transaction per message,
claiming the message with a conditional update so two workers never process it twice. Expected
outcomes are signals (:class:`~gateway.errors.Quarantine`, :class:`~gateway.errors.Discard`);
anything unexpected quarantines the message with its error, raw bytes kept, replayable with
``commgate messages replay``. Database trouble is not the message's fault: it is re-raised so the
job retries.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from gateway.app import App
from gateway.classify.model import Classification
from gateway.errors import Discard, GatewayError, Quarantine, StoreError
from gateway.observe.logs import add_log_context, log_context
from gateway.observe.metrics import observe_pipeline
from gateway.parse import ParsedMessage
from gateway.parse.message import parse_bounded
from gateway.pipeline.context import Context
from gateway.stages import (
    approvals,
    classify,
    dingtalk,
    notify,
    parse,
    receipts,
    record,
    reports,
    thread,
)
from gateway.stages.classify import classify_parsed
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Project

log = logging.getLogger(__name__)


Stage = Callable[[Context], None]


# The whole flow, in order: (name, the ``run`` of gateway/stages/<name>.py).
STAGES: tuple[tuple[str, Stage], ...] = (
    ("parse", parse.run),  # raw bytes -> the message row's columns and flags
    ("thread", thread.run),  # which conversation it belongs to
    ("classify", classify.run),  # category, group, formality, urgency, receipts required
    ("record", record.run),  # the thread's communication record
    ("receipts", receipts.run),  # answers to receipts; new receipts for a directive
    ("notify", notify.run),  # suppress automated senders, mark bounced notices
    ("reports", reports.run),  # special report to leadership on a risk or urgent incident
    ("approvals", approvals.run),  # owner's "同意发送" to a report draft sends it
    ("dingtalk", dingtalk.run),  # a qualifying record goes to the business-process system
)


@dataclass
class Prepared:
    """What the pipeline computes from the raw bytes alone, before any write transaction."""

    raw: bytes
    parsed: ParsedMessage | None = None
    full_own_text: str | None = None
    classification: Classification | None = None
    refused: Quarantine | None = None


@observe_pipeline  # latency histogram, outcome counter, message pk on every log line
def process(app: App, message_pk: int) -> str:
    """Run every stage for one stored message; return its new state (or why nothing was done).

    Two phases: parsing and classifying need only the raw bytes and the configuration, so they
    run first, with no transaction open; only then is the message claimed and are the stages'
    rows written — SQLite's one write lock is never held while a large text is being read
    (other senders' intake and the scheduler's ticks would wait on it).
    """
    ctx: Context | None = None
    try:
        prepared = _prepare(app, message_pk)
        if prepared is None:
            return "skipped"
        with unit_of_work(app.sessions) as session:
            claimed = session.execute(
                update(Message).where(Message.id == message_pk, Message.state == "received")
                .values(state="processed", processed_at=app.clock(), error=None))
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return "skipped"
            message = session.get_one(Message, message_pk)
            project_row = session.get_one(Project, message.project_id)
            ctx = Context(app=app, session=session, message=message,
                          project=app.settings.project(project_row.code), raw=prepared.raw,
                          parsed=prepared.parsed, classification=prepared.classification,
                          refused=prepared.refused, full_own_text=prepared.full_own_text)
            with log_context(message_id=message.message_id, record_id=message.record_id):
                return _run(ctx)
    except (OperationalError, StoreError):
        raise  # the database or disk is unavailable: let the job retry later
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise
        return _quarantine_after_crash(app, message_pk, exc, ctx)
    except Exception as exc:  # noqa: BLE001 - the driver is where the unexpected is caught
        return _quarantine_after_crash(app, message_pk, exc, ctx)


def _prepare(app: App, message_pk: int) -> Prepared | None:
    """The read-only phase: raw bytes, parse and classification; None if not ``received``."""
    with app.sessions() as session:  # reads only: no write lock is taken
        row = session.execute(
            select(Message.sha256, Message.state, Project.code)
            .join(Project, Project.id == Message.project_id)
            .where(Message.id == message_pk)).one_or_none()
        if row is None or row.state != "received":
            return None
        raw = app.raw.get(row.sha256)
    prepared = Prepared(raw=raw)
    try:
        prepared.parsed, prepared.full_own_text = parse_bounded(
            raw, app.settings.gateway.text_stage_max)
    except Quarantine as refused:
        prepared.refused = refused
        return prepared
    prepared.classification = classify_parsed(app, app.settings.project(row.code),
                                              prepared.parsed)
    return prepared


def _run(ctx: Context) -> str:
    for name, stage in STAGES:
        ctx.stage = name
        try:
            stage(ctx)
            if ctx.record is not None:
                add_log_context(record_id=ctx.record.id)
        except Quarantine as signal:
            signal.at(message_id=ctx.message.message_id)
            ctx.stage = None  # what fails from here on is the commit
            ctx.message.state = "quarantined"
            ctx.message.error = f"{signal.stage}: {signal.reason}"
            # (the log context puts the Message-ID and record id on every line)
            log.warning("message %d quarantined at %s: %s", ctx.message.id, signal.stage,
                        signal.reason)
            return "quarantined"
        except Discard as signal:
            signal.at(message_id=ctx.message.message_id)
            ctx.stage = None
            ctx.message.state = "discarded"
            ctx.message.error = f"{signal.stage}: {signal.reason}"
            log.info("message %d needs no record: %s", ctx.message.id, signal.reason)
            return "discarded"
        except GatewayError as error:  # StoreError and the like: name the mail and the stage
            error.at(message_id=ctx.message.message_id, stage=name)
            raise
        log.debug("stage %s done", name)
    ctx.stage = None
    log.info("message %d processed: record %s", ctx.message.id,
             ctx.record.id if ctx.record else "-")
    return "processed"


def _quarantine_after_crash(app: App, message_pk: int, exc: BaseException,
                            ctx: Context | None) -> str:
    """A stage crashed: keep the message, record the error, and never lose it.

    ``ctx`` (None: the crash came before the stages) names the mail and the stage in the log;
    a :class:`~gateway.errors.GatewayError` names them in the recorded error too."""
    summary = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    where = "before the stages" if ctx is None else (
        f"<{ctx.message.message_id}> at {ctx.stage or 'the commit'}")
    log.error("message %d quarantined after an unexpected error (%s): %s", message_pk, where,
              summary, exc_info=exc)
    with unit_of_work(app.sessions) as session:
        session.execute(update(Message).where(Message.id == message_pk,
                                              Message.state == "received")
                        .values(state="quarantined", error=f"crash: {summary}"[:4000],
                                processed_at=app.clock()))
    return "quarantined"


def replay(app: App, message_pk: int) -> str:
    """Put a quarantined (or discarded) message back to ``received`` and run the pipeline on
    it again."""
    with unit_of_work(app.sessions) as session:
        session.execute(update(Message).where(Message.id == message_pk,
                                              Message.state.in_(("quarantined", "discarded")))
                        .values(state="received", error=None))
    return process(app, message_pk)
