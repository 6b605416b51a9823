"""Connector deliveries: one row per (record, connector), sent exactly once per row, never lost.

The ``dingtalk`` pipeline stage calls :func:`queue_for_record` in the message's transaction: a
record that qualifies under a sink's rules gets one row (unique ``(record_id, connector)``; a
reply that qualifies again finds the row and adds nothing). :func:`dispatch_due` — called by the
scheduler tick / sweep and by ``commgate connectors send`` — claims due rows with a conditional
UPDATE (``pending → sending`` with a lease), posts outside any transaction, then records the
outcome only if it still holds the claim. Failures go back to ``pending`` with exponential
back-off (``retry_min_seconds · 2^(attempts-1)``, capped at ``retry_max_seconds``); there is no
give-up: a record the policy says must reach the business-process system waits, visibly, until
it does. A sink whose URL variable is unset is *unconfigured*: its rows are not attempted (no
back-off, no log line per pass), they only carry the reason in ``last_error``; the gateway says
so once per process and sink (:func:`report_unconfigured`, at start and at the first pass).

At-least-once edge (as for mail): if the process dies after the sink's 200 and before our
commit, the lease expires and the row is posted again. The webhook carries a stable
``Idempotency-Key`` for that case; DingTalk's robot API has none.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.audit.chain import record_event
from gateway.config.connectors import ConnectorsConfig, SinkConfig
from gateway.config.env import environment
from gateway.config.settings import ProjectConfig, Settings
from gateway.connectors.base import Connector, matching_sinks, record_payload
from gateway.connectors.dingtalk import DingTalkRobot
from gateway.connectors.webhook import JsonWebhook
from gateway.errors import ConnectorError
from gateway.store.audit_models import ConnectorDelivery
from gateway.store.db import unit_of_work
from gateway.store.models import Record

if TYPE_CHECKING:
    from gateway.app import App

log = logging.getLogger(__name__)

_reported: set[tuple[str, str]] = set()  # (project, sink) said unconfigured in this process
_reported_lock = threading.Lock()


def idempotency_key(project: str, record_id: int, connector: str) -> str:
    return f"commgate:{project}:record:{record_id}:{connector}"


def queue_for_record(session: Session, *, project: ProjectConfig, record: Record,
                     now: datetime) -> list[str]:
    """Queue the record for every sink whose rules it matches; the names newly queued."""
    queued = []
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for sink in matching_sinks(project.connectors, record):
        result = session.execute(
            insert(ConnectorDelivery).values(
                project_id=record.project_id, record_id=record.id, connector=sink.name,
                idempotency_key=idempotency_key(project.code, record.id, sink.name),
                payload=record_payload(project, record), state="pending", attempts=0,
                next_attempt_at=now, created_at=now)
            .on_conflict_do_nothing())
        if result.rowcount:  # type: ignore[attr-defined]
            queued.append(sink.name)
            log.info("record %d queued for connector %s", record.id, sink.name)
    return queued


def make_connector(sink: SinkConfig, environ: Mapping[str, str]) -> Connector:
    """Build the connector; ConnectorError when its URL variable is unset (the row waits)."""
    url = environ.get(sink.url_env, "")
    if not url:
        raise ConnectorError(f"connector {sink.name}: ${sink.url_env} is not set",
                             hint="set the webhook URL in the environment; the delivery waits")
    secret = environ.get(sink.secret_env, "") if sink.secret_env else ""
    cls = DingTalkRobot if sink.kind == "dingtalk" else JsonWebhook
    return cls(name=sink.name, url=url, secret=secret, timeout=sink.timeout)


def unconfigured(settings: Settings, environ: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """``{(project, sink): why}`` for every sink whose URL variable is unset."""
    return {(code, sink.name): f"connector {sink.name}: ${sink.url_env} is not set"
            for code, project in sorted(settings.projects.items())
            for sink in project.connectors.sinks if not environ.get(sink.url_env, "")}


def report_unconfigured(settings: Settings, environ: Mapping[str, str] | None = None) -> int:
    """Log each unconfigured sink once per process (a WARNING: records wait for it); return how
    many were reported now."""
    environ = environment() if environ is None else environ
    fresh = 0
    for (code, name), why in unconfigured(settings, environ).items():
        with _reported_lock:
            if (code, name) in _reported:
                continue
            _reported.add((code, name))
        fresh += 1
        log.warning("project %s: %s — its deliveries wait (`commgate connectors list`) and go "
                    "out once it is set", code, why)
    return fresh


def backoff(config: ConnectorsConfig, attempts: int) -> timedelta:
    seconds = config.retry_min_seconds * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, config.retry_max_seconds))


@dataclass
class DispatchStats:
    sent: int = 0
    failed: int = 0
    taken: int = 0  # claimed by another dispatcher first
    waiting: int = 0  # due, but for a connector that is not configured
    errors: list[str] = field(default_factory=list)


def _due(session: Session, *, now: datetime, project_id: int | None, limit: int,
         skip: Mapping[tuple[int, str], str]) -> list[tuple[int, str, int, int]]:
    q = (select(ConnectorDelivery.id, ConnectorDelivery.state, ConnectorDelivery.attempts,
                ConnectorDelivery.project_id)
         .where(or_(ConnectorDelivery.state == "pending", ConnectorDelivery.state == "sending"),
                ConnectorDelivery.next_attempt_at <= now)
         .order_by(ConnectorDelivery.next_attempt_at, ConnectorDelivery.id).limit(limit))
    if project_id is not None:
        q = q.where(ConnectorDelivery.project_id == project_id)
    if skip:
        q = q.where(not_(or_(*(_of(pid, name) for pid, name in skip))))
    return [(i, s, a, p) for i, s, a, p in session.execute(q)]


def _of(project_id: int, connector: str) -> Any:
    return and_(ConnectorDelivery.project_id == project_id,
                ConnectorDelivery.connector == connector)


def _mark_waiting(session: Session, waiting: Mapping[tuple[int, str], str], *,
                  project_id: int | None) -> int:
    """Unconfigured sinks' pending rows carry the reason (once); how many wait."""
    count = 0
    for (pid, name), why in waiting.items():
        if project_id is not None and pid != project_id:
            continue
        pending = and_(_of(pid, name), ConnectorDelivery.state == "pending")
        session.execute(update(ConnectorDelivery).where(
            pending, or_(ConnectorDelivery.last_error.is_(None),
                         ConnectorDelivery.last_error != why)).values(last_error=why))
        count += session.scalar(
            select(func.count()).select_from(ConnectorDelivery).where(pending)) or 0
    return count


def _claim(app: App, row_id: int, state: str, attempts: int, *, now: datetime,
           lease: timedelta) -> ConnectorDelivery | None:
    """Take the row if nobody did since we looked (same state, same attempt count)."""
    with unit_of_work(app.sessions) as session:
        claimed = session.execute(
            update(ConnectorDelivery)
            .where(ConnectorDelivery.id == row_id, ConnectorDelivery.state == state,
                   ConnectorDelivery.attempts == attempts)
            .values(state="sending", attempts=ConnectorDelivery.attempts + 1,
                    next_attempt_at=now + lease))
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return session.get_one(ConnectorDelivery, row_id)


def _finish(app: App, row: ConnectorDelivery, project: ProjectConfig, *, now: datetime,
            error: str | None) -> bool:
    """Record the outcome if the claim is still ours (same attempt number, still sending)."""
    with unit_of_work(app.sessions) as session:
        ours = (ConnectorDelivery.id == row.id, ConnectorDelivery.state == "sending",
                ConnectorDelivery.attempts == row.attempts)
        if error is None:
            done = session.execute(update(ConnectorDelivery).where(*ours).values(
                state="sent", sent_at=now, last_error=None))
            if done.rowcount == 1:  # type: ignore[attr-defined]
                record_event(session, project_id=row.project_id,
                             actor=f"connector:{row.connector}", action="connector.delivered",
                             subject_type="record", subject_id=row.record_id,
                             after={"connector": row.connector, "attempts": row.attempts,
                                    "key": row.idempotency_key}, now=now)
        else:
            done = session.execute(update(ConnectorDelivery).where(*ours).values(
                state="pending", last_error=error[:2000],
                next_attempt_at=now + backoff(project.connectors, row.attempts)))
        return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def dispatch_due(app: App, *, now: datetime | None = None, project: str | None = None,
                 limit: int = 100, environ: Mapping[str, str] | None = None) -> DispatchStats:
    """Post every due delivery (at most ``limit``); safe to run in several processes at once."""
    now = now or app.clock()
    environ = environment() if environ is None else environ
    codes = {pid: code for code, pid in app.project_ids.items()}
    stats = DispatchStats()
    report_unconfigured(app.settings, environ)
    waiting = {(app.project_ids[code], name): why
               for (code, name), why in unconfigured(app.settings, environ).items()
               if code in app.project_ids}
    only = app.project_ids[project] if project else None
    with unit_of_work(app.sessions) as session:
        stats.waiting = _mark_waiting(session, waiting, project_id=only)
        due = _due(session, now=now, project_id=only, limit=limit, skip=waiting)
    for row_id, state, attempts, pid in due:
        config = app.settings.project(codes[pid])  # its lease and back-off
        row = _claim(app, row_id, state, attempts, now=now,
                     lease=timedelta(seconds=config.connectors.lease_seconds))
        if row is None:
            stats.taken += 1
            continue
        error = _send(row, config, environ, now)
        if not _finish(app, row, config, now=now, error=error):
            stats.taken += 1
        elif error is None:
            stats.sent += 1
        else:
            stats.failed += 1
            stats.errors.append(f"record {row.record_id} → {row.connector}: {error}")
    return stats


def _send(row: ConnectorDelivery, config: ProjectConfig, environ: Mapping[str, str],
          now: datetime) -> str | None:
    sink = next((s for s in config.connectors.sinks if s.name == row.connector), None)
    try:
        if sink is None:
            raise ConnectorError(f"connector {row.connector} is no longer configured")
        make_connector(sink, environ).deliver(row.payload, idempotency_key=row.idempotency_key,
                                              now=now)
    except ConnectorError as exc:
        log.warning("record %d → %s: attempt %d failed: %s", row.record_id, row.connector,
                    row.attempts, exc)
        return str(exc)
    log.info("record %d delivered to %s (attempt %d)", row.record_id, row.connector,
             row.attempts)
    return None
