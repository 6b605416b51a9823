"""``commgate project close``: stop intake, export the archive, hand it to the quality department.

Policy 7: at project end all records are handed to the quality department (质量效能部) and kept
at least three years. The steps, each safe to repeat if an earlier run stopped half-way:

1. intake stops (``projects.intake_open = false``; the SMTP listener then refuses the project's
   mail) — first, so the archive holds everything the project will ever have received;
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
from gateway.audit import record_event
from gateway.config import Department, ProjectConfig
from gateway.errors import ConfigError
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
        row = session.get_one(Project, app.project_ids[code])
        if not row.intake_open:
            return False
        row.intake_open = False
        record_event(session, project_id=row.id, actor=actor, action="project.intake_closed",
                     subject_type="project", subject_id=code, before={"intake_open": True},
                     after={"intake_open": False}, now=app.clock())
        return True


def close_project(app: App, code: str, *, out: Path | None, actor: str,
                  progress: Progress | None = None) -> HandoverResult:
    project = app.settings.project(code)
    dept = quality_department(project)
    pid = app.project_ids[code]
    with unit_of_work(app.sessions) as session:
        done = session.scalars(select(Handover).where(Handover.project_id == pid)).first()
        if done is not None:
            return HandoverResult(done.id, None, done.recipient, False)
    stop_intake(app, code, actor=actor)
    now = app.clock()
    target = out or (app.settings.data_dir / "archives" / code
                     / f"{code}-handover-{now.astimezone(project.zone):%Y%m%d-%H%M}.zip")
    result = export_project(app, code, target, kind="handover", actor=actor, progress=progress)
    attach = result.size <= ATTACH_LIMIT
    with unit_of_work(app.sessions) as session:
        key = _send(app, session, project, dept, result, attach=attach)
        row = Handover(project_id=pid, archive_id=result.archive_id, department=dept.name,
                       recipient_name=dept.interface.name, recipient=dept.interface.email,
                       outbox_key=key, actor=actor, created_at=app.clock())
        session.add(row)
        session.flush()
        record_event(session, project_id=pid, actor=actor, action="project.handover",
                     subject_type="project", subject_id=code,
                     after={"archive_id": result.archive_id, "path": str(result.path),
                            "sha256": result.sha256, "department": dept.name,
                            "recipient": dept.interface.email, "attached": attach},
                     now=app.clock())
        return HandoverResult(row.id, result, dept.interface.email, attach)


def _send(app: App, session: Session, project: ProjectConfig, dept: Department,
          result: ExportResult, *, attach: bool) -> str:
    from gateway.notify.compose import MailAttachment, compose
    from gateway.notify.outbox import queue

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
    key = f"handover:{project.code}"
    queue(session, project_id=app.project_ids[project.code], kind="handover",
          idempotency_key=key, message=message,
          recipients=[dept.interface.email, *(e for _n, e in managers)], now=app.clock())
    return key
