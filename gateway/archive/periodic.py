"""Periodic archives (policy 4.4: 所有沟通记录由项目组整理并定期归档): the scheduler's hook.

``[connectors.archive] every = "weekly" | "monthly"`` in a project file turns them on. The
scheduler calls :func:`archive_due` on each tick; a project gets a new full archive when the
last periodic one is from an earlier week/month (in the project's time zone), written to
``<dir or data_dir/archives/<code>>/<code>-<period>.zip`` and recorded like any export — so the
latest one is what lets ``purge`` go ahead. Closed (handed-over) projects are skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from gateway.archive.export import ExportResult, export_project
from gateway.config.settings import ProjectConfig
from gateway.store.audit_models import ArchiveExport, Handover
from gateway.store.db import unit_of_work
from gateway.store.models import Project

if TYPE_CHECKING:
    from gateway.app import App

log = logging.getLogger(__name__)


def period_of(project: ProjectConfig, moment: datetime) -> str:
    """``2026-11`` (monthly) or ``2026-W48`` (weekly, ISO week) in the project's zone."""
    local = moment.astimezone(project.zone)
    if project.connectors.archive.every == "weekly":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{local:%Y-%m}"


def is_due(project: ProjectConfig, last: datetime | None, now: datetime) -> bool:
    if project.connectors.archive.every == "off":
        return False
    return last is None or period_of(project, last) != period_of(project, now)


def archive_dir(app: App, project: ProjectConfig) -> Path:
    configured = project.connectors.archive.dir
    return Path(configured) if configured else app.settings.data_dir / "archives" / project.code


def archive_due(app: App, *, now: datetime | None = None) -> list[ExportResult]:
    """Write every periodic archive that is due; the exports made (scheduler tick hook)."""
    now = now or app.clock()
    made = []
    for code, project in app.settings.projects.items():
        pid = app.project_ids[code]
        with unit_of_work(app.sessions) as session:
            if session.scalars(select(Handover.id).where(Handover.project_id == pid)).first():
                continue
            last = session.scalars(select(ArchiveExport.created_at).where(
                ArchiveExport.project_id == pid, ArchiveExport.kind == "periodic")
                .order_by(ArchiveExport.created_at.desc()).limit(1)).first()
            if last is None:  # the first archive comes at the first period boundary
                last = session.get_one(Project, pid).created_at
        if not is_due(project, last, now):
            continue
        target = archive_dir(app, project) / f"{code}-{period_of(project, now)}.zip"
        log.info("periodic archive of %s due: writing %s", code, target)
        made.append(export_project(app, code, target, kind="periodic",
                                   actor="system:scheduler"))
    return made
