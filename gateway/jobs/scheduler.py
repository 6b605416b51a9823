"""The scheduler tick: find receipt requests that are due and act on their ladder (DESIGN §4.4).

One pass (:func:`tick`) selects ``receipt_requests`` with ``next_due_at <= now`` (a partial index;
on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so two schedulers share the work instead of doing it
twice), asks :func:`gateway.escalation.plan.plan` what is due, and in the same transaction notes the
events, claims each ladder step (unique row per message × level × repeat) and queues its mails
in the outbox under idempotency keys. The outbox is the job queue for delivery: the mails are
durable when the transaction commits, whatever happens to the broker or this process, and a
pass that dies before committing is simply done again by the next one. Exactly-once, in layers:
the row lock (PostgreSQL), a compare-and-set on ``steps_done`` (every backend), the step's
unique key, and the outbox's unique idempotency key.

One request's turn (:func:`advance`): close it when nothing is owed, work out the ladder, plan,
claim the plan, note the events, act on each due step (:func:`_act`: reminders or escalation).

The pass is the first periodic job (gateway/jobs/periodic.py) of ``commgate serve`` and
``commgate scheduler``; ``commgate tick`` runs it once. Audit-trail entries for its events are
written afterwards in their own transaction (gateway/receipts/events.py explains why).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import false, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.config.settings import Member, ProjectConfig
from gateway.escalation.digest import DigestSink
from gateway.escalation.mail import ListSink, OutboxSink, Outgoing, Sink, escalation, reminder
from gateway.escalation.plan import Deadline, Plan, ladder, plan, resolve_level
from gateway.escalation.plan import Step as LadderStep
from gateway.receipts.events import flush_audit, note_event
from gateway.receipts.moves import close_if_done, restart
from gateway.receipts.states import is_open
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Receipt
from gateway.store.receipt_models import EscalationStep, ReceiptRequest

log = logging.getLogger(__name__)

BATCH = 200
RETRY_AFTER = timedelta(minutes=5)  # a request whose step crashed is looked at again then


@dataclass
class TickReport:
    now: datetime
    requests: int = 0
    events: list[str] = field(default_factory=list)
    mails: list[Outgoing] = field(default_factory=list)
    failed: int = 0


@dataclass
class _RecordingSink:
    inner: Sink
    report: TickReport

    def put(self, session: Session, mail: Outgoing, *, project_id: int, now: datetime) -> None:
        self.inner.put(session, mail, project_id=project_id, now=now)
        self.report.mails.append(mail)


def _due(session: Session, *, now: datetime, project_ids: Sequence[int] | None,
         limit: int) -> list[ReceiptRequest]:
    q = select(ReceiptRequest).where(ReceiptRequest.next_due_at.is_not(None),
                                     ReceiptRequest.next_due_at <= now)
    if project_ids is not None:
        q = q.where(ReceiptRequest.project_id.in_(project_ids))
    q = q.order_by(ReceiptRequest.next_due_at, ReceiptRequest.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    return list(session.scalars(q))


def _claim_step(session: Session, values: dict[str, Any]) -> bool:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(EscalationStep).values(**values).on_conflict_do_nothing(
        index_elements=["message_pk", "round", "level", "repeat"]).returning(EscalationStep.id)
    return session.execute(stmt).scalar_one_or_none() is not None


@dataclass
class _Turn:
    """One request's turn in a pass: what every step of :func:`advance` works on."""
    session: Session
    app: App
    project: ProjectConfig
    request: ReceiptRequest
    now: datetime
    sink: Sink
    report: TickReport

    @property
    def suffix(self) -> str:
        """The keys of a reopened round end in ``:r<round>``."""
        return f":r{self.request.round}" if self.request.round else ""

    def note(self, kind: str, key: str, **fields: Any) -> bool:
        return note_event(self.session, key=f"{kind}:{key}{self.suffix}",
                          project_id=self.request.project_id, kind=kind, now=self.now,
                          request_id=self.request.id, **fields) is not None


def advance(session: Session, app: App, project: ProjectConfig, request: ReceiptRequest, *,
            now: datetime, sink: Sink, report: TickReport) -> None:
    """Do what is due for one request (its row is locked, or guarded by compare-and-set)."""
    if close_if_done(session, request, now=now, events=[]):
        request.next_due_at = None  # closed or withdrawn: nothing more is sent
        return
    turn = _Turn(session, app, project, request, now, sink, report)
    steps, owed = _ladder(turn)
    todo = plan(steps=steps, steps_done=request.steps_done, deadline=request.deadline,
                due_soon_at=request.due_soon_at, due_soon_noted=request.due_soon_noted,
                overdue_noted=request.overdue_noted, now=now)
    if not _claim(turn, todo):
        log.info("receipt request %d advanced by another scheduler", request.id)
        return
    for kind in todo.events:
        if turn.note(kind, str(request.id), detail={"deadline": request.deadline.isoformat()}):
            report.events.append(f"{kind} request {request.id}")
    # Still owed, and due: a receipt a person extended beyond now is left alone until then.
    unconfirmed = [r for r in owed if r.deadline is None or r.deadline <= now]
    later = [r.deadline for r in owed if r.deadline is not None and r.deadline > now]
    if later and todo.next_due_at is None:
        request.next_due_at = min(later)  # look again when the extension runs out
    directive = session.get_one(Message, request.message_pk)
    for step in todo.steps if unconfirmed else ():
        _act(turn, step, directive, unconfirmed)


def _ladder(turn: _Turn) -> tuple[list[LadderStep], list[Receipt]]:
    """The request's ladder and its receipts still owed; a receipt a person extended that is
    now due, after the ladder is done, opens a round of its own."""
    request, cfg = turn.request, turn.project.escalation
    calendar = cfg.calendar.build(turn.project.timezone)
    steps = ladder(cfg.levels, calendar, request.deadline)
    receipts = list(turn.session.scalars(select(Receipt).where(
        Receipt.message_pk == request.message_pk).order_by(Receipt.id)))
    owed = [r for r in receipts if is_open(r.status)]
    extended = [r.deadline for r in owed if r.deadline is not None
                and r.deadline > request.deadline]
    if request.steps_done >= len(steps) and extended and min(extended) <= turn.now:
        restart(request, Deadline(deadline=min(extended), due_soon_at=min(extended)),
                now=turn.now)
        turn.session.flush()
        steps = ladder(cfg.levels, calendar, request.deadline)
    return steps, owed


def _claim(turn: _Turn, todo: Plan) -> bool:
    """Compare-and-set the request's progress to ``todo``'s; False: another scheduler did."""
    request = turn.request
    claimed = turn.session.execute(
        update(ReceiptRequest)
        .where(ReceiptRequest.id == request.id, ReceiptRequest.steps_done == request.steps_done,
               ReceiptRequest.due_soon_noted == request.due_soon_noted,
               ReceiptRequest.overdue_noted == request.overdue_noted)
        .values(steps_done=todo.steps_done,
                due_soon_noted=request.due_soon_noted or "due_soon" in todo.events,
                overdue_noted=request.overdue_noted or "overdue" in todo.events,
                next_due_at=todo.next_due_at, updated_at=turn.now)
        .execution_options(synchronize_session="fetch"))
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _act(turn: _Turn, step: LadderStep, directive: Message, unconfirmed: list[Receipt]) -> None:
    """One ladder step: a reminder to each recipient still owing, or an escalation to the
    level's people (passed on upwards when nobody there can take it)."""
    request, cfg = turn.request, turn.project.escalation
    level, repeat = step.level, step.repeat
    people: list[Member] = []
    if step.notify != "recipients":
        level, people = resolve_level(turn.project, cfg.levels, step.level, sender=request.sender,
                                      unconfirmed=[r.recipient for r in unconfirmed])
        repeat = step.repeat if level == step.level else 0
        if not people:
            turn.note("skipped", f"{request.message_pk}:{step.level}:{repeat}",
                      detail={"level": step.level, "why": "nobody eligible"})
            return
    mails = _mails(turn, directive, unconfirmed, people, level=level, repeat=repeat)
    about = [{"recipient": r.recipient, "status": r.status} for r in unconfirmed]
    note = "" if level == step.level else f"passed on from level {step.level}"
    if not _claim_step(turn.session, {
            "request_id": request.id, "message_pk": request.message_pk, "round": request.round,
            "level": level, "repeat": repeat, "notify": cfg.levels[level - 1].notify,
            "due_at": step.due_at, "done_at": turn.now, "about": about, "note": note,
            "targets": sorted({a for m in mails for a in m.recipients}),
            "outbox_keys": [m.key for m in mails]}):
        return  # this level was already acted on (e.g. passed on to it earlier)
    for mail in mails:
        turn.sink.put(turn.session, mail, project_id=request.project_id, now=turn.now)
    for r in unconfirmed:
        r.level, r.updated_at = max(r.level, level), turn.now
    kind = "reminded" if not people else "escalated"
    turn.note(kind, f"{request.message_pk}:{level}:{repeat}",
              detail={"level": level, "repeat": repeat, "about": about, "note": note,
                      "to": [m.email for m in people] or [r.recipient for r in unconfirmed]})
    turn.report.events.append(f"{kind} level {level} request {request.id}")


def _mails(turn: _Turn, directive: Message, unconfirmed: list[Receipt], people: list[Member],
           *, level: int, repeat: int) -> list[Outgoing]:
    """A reminder per receipt still owed, or (``people`` given) one escalation to them."""
    settings, project, request, now = turn.app.settings, turn.project, turn.request, turn.now
    if not people:
        return [reminder(settings, project, request=request, directive=directive, receipt=r,
                         unconfirmed=unconfirmed, level=level, repeat=repeat, now=now)
                for r in unconfirmed]
    return [escalation(settings, project, request=request, directive=directive, to=people,
                       unconfirmed=unconfirmed, level=level, repeat=repeat,
                       notify=project.escalation.levels[level - 1].notify, now=now)]


def _write_lock_first(session: Session) -> None:
    """SQLite: take the database write lock before reading, waiting for it (busy_timeout).

    A SQLite transaction that has read cannot later upgrade to writing once another connection
    wrote in between (SQLITE_BUSY_SNAPSHOT, no waiting) — and the outbox delivery writes every
    few seconds. PostgreSQL needs nothing: its row locks are taken by the SELECT itself.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(ReceiptRequest).where(false())
                        .values(steps_done=ReceiptRequest.steps_done))


def _pass(session: Session, app: App, *, now: datetime, project_ids: Sequence[int] | None,
          sink: Sink, report: TickReport, limit: int) -> int:
    _write_lock_first(session)
    requests = _due(session, now=now, project_ids=project_ids, limit=limit)
    codes = {pid: code for code, pid in app.project_ids.items()}
    # One mail per person per pass: the pass's reminders and escalations are held and sent as
    # one digest to whoever gets several (gateway/escalation/digest.py).
    held = DigestSink(app.settings, lambda pid: app.settings.project(codes[pid]))
    for request in requests:
        report.requests += 1
        project = app.settings.project(codes[request.project_id])
        try:
            with session.begin_nested():
                advance(session, app, project, request, now=now, sink=held, report=report)
            held.keep()
        except OperationalError:
            raise  # the database is gone or busy: the whole batch is retried next pass
        except Exception:
            held.drop()
            report.failed += 1
            log.exception("receipt request %d: step failed; retried in %s", request.id,
                          RETRY_AFTER)
            session.execute(update(ReceiptRequest).where(ReceiptRequest.id == request.id)
                            .values(next_due_at=now + RETRY_AFTER))
    held.flush(session, sink, now=now)
    return len(requests)


def tick(app: App, *, now: datetime | None = None, project: str | None = None,
         dry_run: bool = False, sink: Sink | None = None, limit: int = BATCH) -> TickReport:
    """One scheduler pass as of ``now``; with ``dry_run`` nothing is stored or queued."""
    now = now or app.clock()
    report = TickReport(now=now)
    project_ids = [app.project_ids[app.settings.project(project).code]] if project else None
    if dry_run:
        session = app.sessions()
        try:
            recording = _RecordingSink(ListSink(), report)
            while _pass(session, app, now=now, project_ids=project_ids, sink=recording,
                        report=report, limit=limit) == limit:
                session.flush()
        finally:
            session.rollback()
            session.close()
        return report
    recording = _RecordingSink(sink or OutboxSink(), report)
    while True:
        with unit_of_work(app.sessions) as session:
            done = _pass(session, app, now=now, project_ids=project_ids, sink=recording,
                         report=report, limit=limit)
        if done < limit:
            break
    for pid in project_ids or list(app.project_ids.values()):
        while True:
            with unit_of_work(app.sessions) as session:
                if flush_audit(session, project_id=pid, actor="system:scheduler",
                               now=now) < 500:
                    break
    if report.mails or report.events:
        log.info("tick %s: %d request(s), %d event(s), %d mail(s) queued", now.isoformat(),
                 report.requests, len(report.events), len(report.mails))
    return report
