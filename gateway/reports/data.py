"""What a report says, read from the records: aggregate SQL over one project and one period.

Every query is bounded by ``records.project_id`` and ``records.created_at`` (index
``ix_records_project_created``), aggregates in the database, and fetches lists only for what the
report names (capped at :data:`LIST_CAP` rows, with the total kept), so a month of 100k records
stays fast (bench/report.py). The result is plain data; rendering is elsewhere.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from gateway.receipts.states import SETTLED
from gateway.reports.periods import Period
from gateway.store.models import Message, Receipt, Record

LIST_CAP = 50
OPEN = ("pending", "read")


@dataclass
class ReportData:
    period: Period
    total: int = 0
    by_group: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    matrix: dict[tuple[str, str], int] = field(default_factory=dict)  # (group, category) → n
    directives: dict[str, int] = field(default_factory=dict)  # issued, confirmed, overdue
    overdue: list[dict[str, Any]] = field(default_factory=list)  # who has not confirmed what
    escalated: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    risks: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    minutes_open: list[dict[str, Any]] = field(default_factory=list)
    # {"record", "subject", "rule": unconfirmed_change|overdue|no_output, "who"}
    findings: list[dict[str, Any]] = field(default_factory=list)
    confirmations: list[tuple[str, int]] = field(default_factory=list)  # (day, confirmed)


def _in_period(project_id: int, period: Period) -> Any:
    return and_(Record.project_id == project_id, Record.created_at >= period.start,
                Record.created_at < period.end)


def _records(session: Session, project_id: int, period: Period, category: str) -> list[Any]:
    return list(session.execute(
        select(Record.id, Record.subject, Record.summary, Record.urgency, Record.created_at,
               Record.conclusion)
        .where(_in_period(project_id, period), Record.category == category)
        .order_by(Record.created_at).limit(LIST_CAP)))


def _receipts(session: Session, record_ids: list[int]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    if record_ids:
        for r in session.execute(select(Receipt.record_id, Receipt.recipient, Receipt.status)
                                 .where(Receipt.record_id.in_(record_ids))):
            out.setdefault(r.record_id, []).append(r)
    return out


def collect(session: Session, *, project_id: int, period: Period, now: datetime,
            zone: ZoneInfo) -> ReportData:
    data = ReportData(period=period)
    where = _in_period(project_id, period)
    for group, category, n in session.execute(
            select(Record.stakeholder_group, Record.category, func.count())
            .where(where).group_by(Record.stakeholder_group, Record.category)):
        data.matrix[(group, category)] = n
        data.by_group[group] = data.by_group.get(group, 0) + n
        data.by_category[category] = data.by_category.get(category, 0) + n
        data.total += n
    _directives(session, data, where, now)
    _lists(session, data, project_id, period, now)
    _confirmations(session, data, project_id, period, zone)
    return data


def _directives(session: Session, data: ReportData, where: Any, now: datetime) -> None:
    directive = and_(where, Record.category == "directive")
    issued = session.scalar(select(func.count()).select_from(Record).where(directive)) or 0
    # A directive is confirmed when none of its receipts is still open or refused (a waived
    # receipt is settled: gateway/receipts/states.py).
    unconfirmed = (select(Receipt.record_id).join(Record, Record.id == Receipt.record_id)
                   .where(directive, Receipt.status.not_in(sorted(SETTLED))).distinct())
    open_ids = set(session.scalars(unconfirmed))
    # One source for "overdue" and "escalated" (issue 21: the sections must agree): every
    # receipt of the period's records that is past its deadline and not settled, or that was
    # escalated. Overdue = not settled and past the deadline (questioned and declined are not
    # confirmations either); escalated = reminded or escalated at least once.
    rows = session.execute(
        select(Record.id, Record.subject, Record.category, Receipt.recipient, Receipt.deadline,
               Receipt.level, Receipt.status).join(Record, Record.id == Receipt.record_id)
        .where(where, or_(and_(Receipt.status.not_in(sorted(SETTLED)), Receipt.deadline < now),
                          Receipt.level > 0))
        .order_by(Receipt.deadline, Record.id, Receipt.id).limit(LIST_CAP * 4)).all()
    overdue_directives: set[int] = set()
    for record_id, subject, category, recipient, deadline, level, status in rows:
        item = {"record": record_id, "subject": subject, "recipient": recipient,
                "deadline": deadline, "level": level, "status": status}
        if status not in SETTLED and deadline is not None and deadline < now:
            if category == "directive":
                overdue_directives.add(record_id)
            if len(data.overdue) < LIST_CAP:
                data.overdue.append(item)
        if level > 0 and len(data.escalated) < LIST_CAP:
            data.escalated.append(item)
    data.escalated.sort(key=lambda e: (e["record"], e["recipient"]))
    data.directives = {"issued": issued, "confirmed": issued - len(open_ids),
                       "overdue": len(overdue_directives)}


def _lists(session: Session, data: ReportData, project_id: int, period: Period,
           now: datetime) -> None:
    changes = _records(session, project_id, period, "change_notice")
    minutes = _records(session, project_id, period, "meeting_minutes")
    receipts = _receipts(session, [r.id for r in changes + minutes])
    for r in changes:
        rs = receipts.get(r.id, [])
        confirmed = bool(rs) and all(x.status == "confirmed" for x in rs)
        data.changes.append({"record": r.id, "subject": r.subject, "created_at": r.created_at,
                             "confirmed": confirmed,
                             "waiting": [x.recipient for x in rs if x.status != "confirmed"]})
        if not confirmed:  # policy 4.2.1: the client confirms a change
            data.findings.append({"record": r.id, "subject": r.subject,
                                  "rule": "unconfirmed_change",
                                  "who": [x.recipient for x in rs if x.status != "confirmed"]})
    for r in minutes:
        waiting = [x.recipient for x in receipts.get(r.id, []) if x.status != "confirmed"]
        if waiting:
            data.minutes_open.append({"record": r.id, "subject": r.subject, "waiting": waiting})
    for r in _records(session, project_id, period, "risk"):
        data.risks.append({"record": r.id, "subject": r.subject, "summary": r.summary,
                           "created_at": r.created_at, "conclusion": r.conclusion})
    for r in _records(session, project_id, period, "incident"):
        data.incidents.append({"record": r.id, "subject": r.subject, "urgency": r.urgency,
                               "created_at": r.created_at,
                               "response_minutes": _response_minutes(session, r)})
    for item in data.overdue:  # policy 4.3: important directives are explicitly confirmed
        data.findings.append({"record": item["record"], "subject": item["subject"],
                              "rule": "overdue", "who": [item["recipient"]]})
    for r in session.execute(select(Record.id, Record.subject).where(
            _in_period(project_id, period), Record.formality.in_(("formal_written",
                                                                  "formal_oral")),
            Record.receipt_required.is_(False), Record.conclusion.is_(None)).limit(10)):
        # policy 4.4: formal communication has an output confirmed by the parties
        data.findings.append({"record": r.id, "subject": r.subject, "rule": "no_output",
                              "who": []})


def _response_minutes(session: Session, record: Any) -> int | None:
    """Minutes from the incident's first message to the first message after it."""
    times = list(session.scalars(select(Message.received_at).where(
        Message.record_id == record.id).order_by(Message.received_at).limit(2)))
    if len(times) < 2:
        return None
    return int((times[1] - times[0]).total_seconds() // 60)


def _confirmations(session: Session, data: ReportData, project_id: int, period: Period,
                   zone: ZoneInfo) -> None:
    days: Counter[str] = Counter()
    for (moment,) in session.execute(
            select(Receipt.updated_at).join(Record, Record.id == Receipt.record_id)
            .where(Record.project_id == project_id, Receipt.status == "confirmed",
                   Receipt.updated_at >= period.start, Receipt.updated_at < period.end)):
        days[moment.astimezone(zone).date().isoformat()] += 1
    data.confirmations = [(d.isoformat(), days.get(d.isoformat(), 0)) for d in period.days()]
