"""A project's life cycle in the database: open (its address takes mail) or closed.

``project close`` (gateway/archive/handover.py) closes intake, archives and hands over;
``project reopen`` opens intake again when a closed project turns out to have work left (a
warranty call, a late claim) — audited with who and why; a later close hands over a new
archive. ``project list`` shows every configured project with its state, records and open
receipts. Functions take a session and never commit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.audit.chain import record_event
from gateway.config.settings import Settings
from gateway.errors import GatewayError
from gateway.receipts.states import OPEN_STATUSES
from gateway.store.audit_models import Handover
from gateway.store.models import Project, Receipt, Record


class ProjectStateError(GatewayError):
    """A life-cycle step that does not fit the project's state (reopen an open project…)."""


def set_intake(session: Session, project_id: int, *, open_: bool, actor: str, now: datetime,
               note: str | None = None, action: str | None = None) -> bool:
    """Open or close the project's address; True if that changed anything (audited)."""
    row = session.get_one(Project, project_id, with_for_update=True)
    if row.intake_open == open_:
        return False
    row.intake_open = open_
    after: dict[str, Any] = {"intake_open": open_}
    if note:
        after["note"] = note
    record_event(session, project_id=row.id, actor=actor,
                 action=action or ("project.reopened" if open_ else "project.intake_closed"),
                 subject_type="project", subject_id=row.code,
                 before={"intake_open": not open_}, after=after, now=now)
    return True


def reopen(session: Session, project_id: int, *, actor: str, note: str, now: datetime) -> None:
    if not note.strip():
        raise ProjectStateError("--note is empty: say why the project is reopened")
    row = session.get_one(Project, project_id)
    if not set_intake(session, project_id, open_=True, actor=actor, now=now,
                      note=note.strip()):
        raise ProjectStateError(f"project {row.code} is open already")


@dataclass(frozen=True)
class ProjectRow:
    code: str
    address: str
    state: str  # open | closed
    records: int
    open_receipts: int
    handed_over: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def project_rows(session: Session, settings: Settings,
                 project_ids: dict[str, int]) -> list[ProjectRow]:
    """Every configured project, by code."""
    records: dict[int, int] = {pid: n for pid, n in session.execute(
        select(Record.project_id, func.count()).group_by(Record.project_id))}
    receipts: dict[int, int] = {pid: n for pid, n in session.execute(
        select(Record.project_id, func.count()).select_from(Receipt)
        .join(Record, Record.id == Receipt.record_id)
        .where(Receipt.status.in_(OPEN_STATUSES)).group_by(Record.project_id))}
    handed = set(session.scalars(select(Handover.project_id)))
    out = []
    for code in sorted(settings.projects):
        pid = project_ids.get(code, -1)
        row = session.get(Project, pid)
        out.append(ProjectRow(code=code, address=settings.projects[code].address,
                              state="open" if row is None or row.intake_open else "closed",
                              records=records.get(pid, 0), open_receipts=receipts.get(pid, 0),
                              handed_over=pid in handed))
    return out
