"""A person states a record's conclusion by hand (policy 4.4, ``commgate records conclude``).

The record stage finds conclusions in mail (gateway/records/store.py); a project manager may
also set one. This module finds the record (optionally checking its project), decides who
concludes — the address given, else the project's first project manager — and hands over to
:func:`gateway.records.reclassify.conclude`, which writes the history and the audit event.
Nothing commits here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.addresses import try_normalize
from gateway.config.settings import Settings
from gateway.errors import RecordsError
from gateway.records.reclassify import conclude
from gateway.store.models import Project, Record


def conclude_by_hand(session: Session, settings: Settings, *, record_id: int, text: str,
                     by: str | None, project: str | None, now: datetime) -> str:
    """Set record ``record_id``'s conclusion to ``text``; return who concluded (an address).

    Raises :class:`RecordsError` for an unknown record (or one outside ``project``) and for a
    ``by`` that is not a mail address; the project file's errors are ConfigErrors.
    """
    record = session.get(Record, record_id, with_for_update=True)
    code = session.get_one(Project, record.project_id).code if record else None
    if record is None or code is None or (project is not None and code != project):
        raise RecordsError(f"no record {record_id}" + (f" in project {project}" if project
                                                       else ""))
    config = settings.project(code)
    pms = config.members_with("project_manager")
    who = try_normalize(by) if by else (pms[0].email if pms else "")
    if by and not who:
        raise RecordsError(f"--by {by!r} is not a mail address")
    conclude(session, record, text, by=who or "", now=now)
    return who or ""
