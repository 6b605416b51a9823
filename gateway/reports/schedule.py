"""The scheduler hook: send the periodic reports that are due and the expected-mail reminders.

``tick(app, now)`` is safe to call as often as wanted, from any number of processes: every mail
it queues is keyed (``report_runs`` / ``expected_alerts`` unique keys and outbox idempotency
keys), so a second run in the same period queues nothing. Wire it into the periodic sweep or a
``commgate report tick`` cron line.

A report whose matrix row says ``approval = true`` is drafted to the row's owner instead and
sent when the owner approves (gateway/reports/approval.py).

Only periods that end after the project was registered with the gateway are scheduled: a new
deployment does not send reports (or chase expected mail) for weeks it never saw.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from gateway.reports.approval import draft_report
from gateway.reports.build import due_reports, last_sent, needs_approval, recipients, send_report
from gateway.reports.expected import remind_missing
from gateway.store.db import unit_of_work
from gateway.store.models import Project

if TYPE_CHECKING:
    from gateway.app import App

log = logging.getLogger(__name__)


def tick(app: App, now: datetime) -> int:
    """Queue due reports and reminders for every project; return how many were queued."""
    queued = 0
    for code, project in app.settings.projects.items():
        with unit_of_work(app.sessions) as session:
            since = session.get_one(Project, app.project_ids[code]).created_at
            done = last_sent(session, app.project_ids[code])
            for due in due_reports(project, done, now):
                if due.period.end <= since:
                    continue
                to = recipients(project, due.row)
                if needs_approval(project, due.row, to):  # drafted to the owner first
                    if draft_report(app, session, project=project, due=due, to=to, now=now):
                        queued += 1
                elif send_report(app, session, project=project, kind=due.kind,
                                 period=due.period, to=to, now=now):
                    log.info("%s: %s report %s queued", code, due.kind, due.period.key)
                    queued += 1
            queued += remind_missing(app, session, project, now, since=since)
    return queued
