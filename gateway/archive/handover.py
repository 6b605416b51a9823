"""``commgate project close``: stop intake, export the archive, hand it to the quality department.

Policy 7: at project end all records are handed to the quality department (质量效能部) and kept
at least three years. The steps, each safe to repeat if an earlier run stopped half-way:

1. intake stops (``projects.intake_open = false``; the SMTP listener then refuses the project's
   mail) — first, so the archive holds everything the project will ever have received; if a
   later step fails, intake is opened again (audited), so a project is never left closed
   without its archive and handover;
2. the handover archive is exported (:mod:`gateway.archive.export`);
3. one transaction records the handover (a ``handovers`` row + audit event) and queues a mail
   to the interface person of the department whose group is ``quality``, with the project
   managers in Cc: the archive attached when small, else its location and checksum.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.archive import pages
from gateway.archive.export import ExportResult, Progress, export_project
from gateway.archive.project_state import set_intake
from gateway.audit.chain import record_event
from gateway.config.settings import Department, ProjectConfig
from gateway.errors import ConfigError
from gateway.notify.compose import MailAttachment, compose
from gateway.notify.outbox import queue
from gateway.store.audit_models import Handover
from gateway.store.db import unit_of_work
from gateway.store.models import Project

if TYPE_CHECKING:
    from gateway.app import App

ATTACH_LIMIT = 10 * 1024 * 1024  # larger archives travel by location, not by mail


@dataclass(frozen=True)
class HandoverResult:
    handover_id: int
    archive: ExportResult | None  # None: the project had been handed over already
    recipient: str
    attached: bool


def quality_department(project: ProjectConfig) -> Department:
    dept = next((d for d in project.departments if d.group == "quality"), None)
    if dept is None:
        raise ConfigError("no department with group \"quality\": the archive has no recipient",
                          file=f"projects/{project.code}.toml", key="departments",
                          hint="add the quality department and its interface person (policy 7)")
    return dept


def stop_intake(app: App, code: str, *, actor: str) -> bool:
    """Close the project's address; True if it was open."""
    with unit_of_work(app.sessions) as session:
        return set_intake(session, app.project_ids[code], open_=False, actor=actor,
                          now=app.clock())


def close_project(app: App, code: str, *, out: Path | None, actor: str,
                  progress: Progress | None = None) -> HandoverResult:
    """Stop intake, export, hand over. Intake is open again if the archive or the handover
    fails, so a project is never left closed without them; a reopened project hands over a
    new archive (its handover row then names the latest one)."""
    project = app.settings.project(code)
    dept = quality_department(project)
    pid = app.project_ids[code]
    with unit_of_work(app.sessions) as session:
        done = session.scalars(select(Handover).where(Handover.project_id == pid)).first()
        closed = not session.get_one(Project, pid).intake_open
        if done is not None and closed:
            return HandoverResult(done.id, None, done.recipient, False)
    stopped = stop_intake(app, code, actor=actor)
    try:
        return _hand_over(app, project, dept, out=out, actor=actor, progress=progress)
    except BaseException as exc:
        if stopped:  # undo: the project keeps taking mail until a close succeeds
            with unit_of_work(app.sessions) as session:
                set_intake(session, pid, open_=True, actor=actor, now=app.clock(),
                           action="project.intake_reopened",
                           note=f"close failed: {type(exc).__name__}: {exc}"[:500])
        raise


def _hand_over(app: App, project: ProjectConfig, dept: Department, *, out: Path | None,
               actor: str, progress: Progress | None) -> HandoverResult:
    code, pid = project.code, app.project_ids[project.code]
    now = app.clock()
    target = out or (app.settings.data_dir / "archives" / code
                     / f"{code}-handover-{now.astimezone(project.zone):%Y%m%d-%H%M}.zip")
    result = export_project(app, code, target, kind="handover", actor=actor, progress=progress)
    attach = result.size <= ATTACH_LIMIT
    with unit_of_work(app.sessions) as session:
        row = session.scalars(select(Handover).where(Handover.project_id == pid)
                              .with_for_update()).first()
        again = row is not None
        key = _send(app, session, project, dept, result, attach=attach,
                    suffix=f":{result.archive_id}" if again else "")
        if row is None:
            row = Handover(project_id=pid, archive_id=result.archive_id, department=dept.name,
                           recipient_name=dept.interface.name, recipient=dept.interface.email,
                           outbox_key=key, actor=actor, created_at=app.clock())
            session.add(row)
        else:  # closed again after a reopen: the latest archive is the one handed over
            row.archive_id, row.outbox_key, row.actor = result.archive_id, key, actor
            row.department, row.recipient_name = dept.name, dept.interface.name
            row.recipient, row.created_at = dept.interface.email, app.clock()
        session.flush()
        record_event(session, project_id=pid, actor=actor, action="project.handover",
                     subject_type="project", subject_id=code,
                     after={"archive_id": result.archive_id, "path": str(result.path),
                            "sha256": result.sha256, "department": dept.name,
                            "recipient": dept.interface.email, "attached": attach,
                            "again": again},
                     now=app.clock())
        return HandoverResult(row.id, result, dept.interface.email, attach)


def _send(app: App, session: Session, project: ProjectConfig, dept: Department,
          result: ExportResult, *, attach: bool, suffix: str = "") -> str:

    context = {"project": project, "dept": dept, "r": result, "attached": attach,
               "zone": project.timezone, "size_mb": f"{result.size / 1048576:.1f}"}
    text = pages.render("handover_mail", lang=project.language, context=context, ext="txt")
    subject, _, body = text.partition("\n")
    managers = [(m.name, m.email) for m in project.members_with("project_manager")]
    attachments = [MailAttachment(result.path.name, result.path.read_bytes(),
                                  "application/zip")] if attach else []
    message = compose(settings=app.settings, project=project,
                      sender=(project.name, project.address),
                      to=[(dept.interface.name, dept.interface.email)], cc=managers,
                      subject=subject.strip(), text=body.lstrip("\n"), html=None,
                      automated=True, attachments=attachments, language=project.language)
    key = f"handover:{project.code}{suffix}"
    queue(session, project_id=app.project_ids[project.code], kind="handover",
          idempotency_key=key, message=message,
          recipients=[dept.interface.email, *(e for _n, e in managers)], now=app.clock())
    return key
