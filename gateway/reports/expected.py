"""Expected communications: what the matrix says people must send, and who has not.

A matrix row that the gateway does not generate itself (any kind but ``weekly_report`` /
``monthly_report``) and whose ``frequency`` is a schedule (gateway/reports/periods.py) is an
expectation: every member with the row's ``owner`` role sends, for each period, a mail through
the gateway to the row's recipients (or members with its ``recipient_roles``) by the due time.
Rows of ``*_report`` kinds count only mail the pipeline classified as ``report``.

:func:`plan_missing` is pure (sent mail in, missing items out); :func:`expected_missing` adds
the database query; :func:`remind_missing` mails the owner (level 0) at the due time and the
project manager — or the O&M department manager when the PM is the owner — ``grace`` later
(level 1), each once (``expected_alerts`` unique key). The escalation ladder may reuse
``expected_missing`` and queue its own mails instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.config.settings import MatrixEntry, ProjectConfig
from gateway.notify.system import send_system_notice
from gateway.reports.build import GENERATED
from gateway.reports.periods import Period, latest_due, parse_frequency
from gateway.store.models import Message, Project, Record
from gateway.store.notify_models import ExpectedAlert

if TYPE_CHECKING:
    from gateway.app import App


@dataclass(frozen=True)
class Sent:
    """One stored mail, as the plan needs it."""

    sender: str
    recipients: frozenset[str]
    at: datetime
    category: str | None


@dataclass(frozen=True)
class Missing:
    kind: str
    information: str
    owner: str
    owner_name: str
    period: Period
    due: datetime
    recipients: tuple[str, ...]


def expectations(project: ProjectConfig) -> list[tuple[MatrixEntry, list[str]]]:
    out = []
    for row in project.matrix:
        if row.kind in GENERATED or parse_frequency(row.frequency) is None:
            continue
        targets = list(row.recipients) + [m.email for m in project.members
                                          if m.role in row.recipient_roles]
        out.append((row, targets))
    return out


def plan_missing(project: ProjectConfig, sent: Iterable[Sent], now: datetime) -> list[Missing]:
    """Pure: which owners have not sent what the matrix expects for the latest due period."""
    sent = list(sent)
    out: list[Missing] = []
    for row, targets in expectations(project):
        schedule = parse_frequency(row.frequency)
        assert schedule is not None
        period, due = latest_due(schedule, now, project.zone)
        for owner in project.members_with(row.owner):
            done = any(s.sender == owner.email and period.start <= s.at <= due
                       and (not targets or s.recipients & set(targets))
                       and (not row.kind.endswith("_report") or s.category == "report")
                       for s in sent)
            if not done:
                out.append(Missing(row.kind, row.information, owner.email, owner.name,
                                   period, due, tuple(targets)))
    return out


def expected_missing(session: Session, project: ProjectConfig, now: datetime) -> list[Missing]:
    """:func:`plan_missing` over the mail stored for ``project`` since the earliest period."""
    rows = expectations(project)
    if not rows:
        return []
    starts = []
    for row, _t in rows:
        schedule = parse_frequency(row.frequency)
        assert schedule is not None
        starts.append(latest_due(schedule, now, project.zone)[0].start)
    project_id = session.scalars(select(Project.id).where(Project.code == project.code)).one()
    owners = [m.email for m in project.members]
    query = (select(Message.from_addr, Message.to_addrs, Message.cc_addrs, Message.received_at,
                    Record.category)
             .outerjoin(Record, Record.id == Message.record_id)
             .where(Message.project_id == project_id, Message.from_addr.in_(owners),
                    Message.received_at >= min(starts), Message.received_at <= now))
    sent = [Sent(sender or "", frozenset([*(to or []), *(cc or [])]), at, category)
            for sender, to, cc, at, category in session.execute(query)]
    return plan_missing(project, sent, now)


def remind_missing(app: App, session: Session, project: ProjectConfig, now: datetime, *,
                   grace: timedelta = timedelta(hours=24), since: datetime | None = None) -> int:
    """Queue the reminders that are due; return how many mails were queued.

    ``since``: only periods that end after it (the project's registration) are chased.
    """
    project_id = app.project_ids[project.code]
    queued = 0
    for item in expected_missing(session, project, now):
        if since is not None and item.period.end <= since:
            continue
        pm = [m.email for m in project.members_with("project_manager")]
        boss = ([m.email for m in project.members_with("dept_manager")]
                if item.owner in pm else pm)
        for level, to, at in ((0, [item.owner], item.due), (1, boss, item.due + grace)):
            if now < at:
                continue
            alert = ExpectedAlert(project_id=project_id, kind=item.kind, owner=item.owner,
                                  period=item.period.key, level=level, created_at=now)
            try:
                with session.begin_nested():
                    session.add(alert)
            except IntegrityError:
                continue
            mail = send_system_notice(
                app, session, project=project, kind="expected", to=to, now=now,
                fields={"item": item, "level": level},
                idempotency_key=f"expected:{project.code}:{item.kind}:{item.owner}:"
                                f"{item.period.key}:{level}")
            alert.outbox_id = mail.id if mail else None
            queued += 1
    return queued
