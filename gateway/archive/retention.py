"""Retention: records are kept at least ``retention_years`` (policy 7: 不少于3年), then purged.

``commgate purge --project demo --before DATE`` removes a project's communication records whose
last activity is before ``DATE`` — with their messages, receipts, threads and whatever other
table hangs on them — and stray messages (no record) received before it. It refuses, naming
the reason, when the project is on legal hold (``hold = true``), when ``DATE`` is inside the
retention period, or when no recorded archive export covers ``DATE`` (what is deleted must be in
an archive first). The purge is itself an audit event; the audit trail is never purged.

Raw files are removed after the database commit, and only when no remaining message (of any
project) has the same SHA-256: the raw store is content-addressed and shared. A crash between
the commit and the unlink leaves an orphan file, never a dangling row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import Table, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from gateway.audit.chain import deleted_ids, record_event
from gateway.config.settings import ProjectConfig
from gateway.errors import RetentionRefused
from gateway.store.audit_models import ArchiveExport, AuditEvent, AuditHead
from gateway.store.models import Base, Message, Receipt, Record, Thread
from gateway.store.raw import RawStore

log = logging.getLogger(__name__)
CHUNK = 500  # ids per IN (…): below every backend's bound-parameter limit
KEEP = {AuditEvent.__table__, AuditHead.__table__}  # the trail outlives what it describes


def latest_cutoff(project: ProjectConfig, now: datetime) -> date:
    """The latest ``--before`` date allowed today: today minus retention_years (local date)."""
    today = now.astimezone(project.zone).date()
    try:
        return today.replace(year=today.year - project.retention_years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - project.retention_years, day=28)


@dataclass(frozen=True)
class PurgePlan:
    project: str
    project_id: int
    before: date
    cutoff: datetime  # midnight of ``before`` in the project's time zone
    archive_id: int
    record_ids: list[int]
    message_ids: list[int]
    thread_ids: list[int]


@dataclass(frozen=True)
class PurgeResult:
    plan: PurgePlan
    raw_candidates: list[str]  # SHA-256 of purged messages, unlinked after commit if unshared


def check_allowed(session: Session, project: ProjectConfig, project_id: int, before: date,
                  now: datetime) -> ArchiveExport:
    """The archive that covers ``before``; RetentionRefused with the reason otherwise."""
    if project.hold:
        raise RetentionRefused(f"project {project.code} is on legal hold: nothing is purged",
                               hint=f"set hold = false in projects/{project.code}.toml to lift it")
    latest = latest_cutoff(project, now)
    if before > latest:
        raise RetentionRefused(
            f"{before} is inside the retention period: {project.code} keeps records "
            f"{project.retention_years} years (policy 7), so the latest cut-off today is {latest}")
    cutoff = datetime.combine(before, time(0), project.zone)
    archive = session.scalars(select(ArchiveExport).where(
        ArchiveExport.project_id == project_id, ArchiveExport.covers_until >= cutoff)
        .order_by(ArchiveExport.covers_until.desc()).limit(1)).first()
    if archive is None:
        raise RetentionRefused(
            f"no archive export of {project.code} covers what was received before {before}: "
            f"only archived records may be purged",
            hint=f"run `commgate archive export --project {project.code} --out …` first")
    return archive


def plan_purge(session: Session, project: ProjectConfig, project_id: int, before: date,
               now: datetime) -> PurgePlan:
    archive = check_allowed(session, project, project_id, before, now)
    cutoff = datetime.combine(before, time(0), project.zone)
    # Last activity by our own clock (updated_at); created_at comes from a sender's Date header.
    purged_records = select(Record.id).where(Record.project_id == project_id,
                                             Record.updated_at < cutoff)
    record_ids = list(session.scalars(purged_records.order_by(Record.id)))
    message_ids = list(session.scalars(select(Message.id).where(
        Message.project_id == project_id,
        or_(Message.record_id.in_(purged_records),
            (Message.record_id.is_(None)) & (Message.received_at < cutoff)))
        .order_by(Message.id)))
    thread_ids = list(session.scalars(select(Record.thread_id).where(
        Record.id.in_(purged_records))))
    return PurgePlan(project=project.code, project_id=project_id, before=before, cutoff=cutoff,
                     archive_id=archive.id, record_ids=record_ids, message_ids=message_ids,
                     thread_ids=thread_ids)


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def _delete_rows(session: Session, table: Table, ids: list[int]) -> None:
    """Delete rows by primary key, first detaching or deleting every row that points at them.

    Generic over the schema, so tables other stages add later are handled: a nullable foreign
    key is set to NULL (e.g. an outbox mail keeps existing without its record), a required one
    takes its row along (e.g. a receipt goes with its message).
    """
    if not ids:
        return
    (pk,) = table.primary_key.columns
    for dep in Base.metadata.sorted_tables:
        if dep in KEEP:
            continue
        for fk in dep.foreign_keys:
            if fk.column.table is not table:
                continue
            col = fk.parent
            for part in _chunks(ids):
                if col.nullable:
                    session.execute(update(dep).where(col.in_(part)).values({col.name: None}))
                elif len(dep.primary_key.columns) == 1 and dep is not table:
                    dep_pk = next(iter(dep.primary_key.columns))
                    dep_ids = list(session.scalars(select(dep_pk).where(col.in_(part))))
                    _delete_rows(session, dep, dep_ids)
                else:
                    session.execute(delete(dep).where(col.in_(part)))
    for part in _chunks(ids):
        session.execute(delete(table).where(pk.in_(part)))


def _ranges(ids: list[int]) -> str:
    """``[1,2,3,7]`` → ``"1-3,7"``: the purge event names every id without growing huge."""
    out: list[str] = []
    for i in sorted(ids):
        if out and "-" in out[-1] and int(out[-1].split("-")[1]) == i - 1:
            out[-1] = f"{out[-1].split('-')[0]}-{i}"
        elif out and "-" not in out[-1] and int(out[-1]) == i - 1:
            out[-1] = f"{out[-1]}-{i}"
        else:
            out.append(str(i))
    return ",".join(out)


def execute_purge(session: Session, plan: PurgePlan, *, actor: str,
                  now: datetime) -> PurgeResult:
    """Delete what the plan names and record the purge; the caller commits, then unlinks."""
    shas = sorted({sha for part in _chunks(plan.message_ids) for sha in session.scalars(
        select(Message.sha256).where(Message.id.in_(part)))})
    # The receipts that go with them (required foreign keys), named so the chain expects them gone.
    receipt_ids = sorted({rid for part in _chunks(plan.message_ids) for rid in session.scalars(
        select(Receipt.id).where(Receipt.message_pk.in_(part)))} | {
        rid for part in _chunks(plan.record_ids) for rid in session.scalars(
            select(Receipt.id).where(Receipt.record_id.in_(part)))})
    _delete_rows(session, Message.__table__, plan.message_ids)  # type: ignore[arg-type]
    _delete_rows(session, Record.__table__, plan.record_ids)  # type: ignore[arg-type]
    orphans = [t for t in plan.thread_ids
               if not session.scalar(select(exists().where(Message.thread_id == t)))
               and not session.scalar(select(exists().where(Record.thread_id == t)))]
    _delete_rows(session, Thread.__table__, orphans)  # type: ignore[arg-type]
    record_event(session, project_id=plan.project_id, actor=actor, action="purge",
                 subject_type="project", subject_id=plan.project,
                 after={"before": plan.before.isoformat(), "cutoff": plan.cutoff.isoformat(),
                        "archive_id": plan.archive_id, "records": len(plan.record_ids),
                        "messages": len(plan.message_ids), "threads": len(orphans),
                        "record_ids": _ranges(plan.record_ids),
                        "message_ids": _ranges(plan.message_ids),
                        "deleted": deleted_ids(message=plan.message_ids,
                                               record=plan.record_ids, receipt=receipt_ids)},
                 now=now)
    log.info("purge %s before %s: %d record(s), %d message(s)", plan.project, plan.before,
             len(plan.record_ids), len(plan.message_ids))
    return PurgeResult(plan=plan, raw_candidates=shas)


def remove_unshared_raw(session: Session, raw: RawStore, shas: Iterable[str]) -> int:
    """After the commit: delete the raw bytes (inline or file) no remaining message refers to."""
    removed = 0
    for sha in shas:
        if session.scalar(select(exists().where(Message.sha256 == sha))):
            continue
        if raw.remove(sha, conn=session.connection()):
            removed += 1
    return removed
