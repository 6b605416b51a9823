"""Special reports (policy 4.2.2, 4.3): a recorded risk goes to leadership at once; an urgent
incident goes to leadership, the project manager and the O&M department manager.

:func:`special_report` is called by the ``reports`` stage (gateway/stages/reports.py), after
``record`` (and ``notify``): it looks at the record the message belongs to and queues the special
report once per record (``report_runs`` key ``record:<id>``), in the same transaction as the
message's processing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from gateway.config.settings import ProjectConfig
from gateway.reports.build import send_report
from gateway.reports.periods import month_of
from gateway.store.models import Record

if TYPE_CHECKING:
    from gateway.app import App


def special_kind(record: Record) -> str | None:
    if record.category == "risk":
        return "risk"
    if record.category == "incident" and record.urgency == "urgent":
        return "incident"
    return None


def special_recipients(project: ProjectConfig, kind: str) -> list[str]:
    out = [s.email for s in project.stakeholders if s.group == "leadership"]
    out += [m.email for m in project.members_with("dept_manager")]
    if kind == "incident":
        out += [m.email for m in project.members_with("project_manager")]
    return list(dict.fromkeys(out))


def record_facts(record: Record) -> dict[str, Any]:
    sender = next((p.get("name") or p.get("address") for p in record.parties
                   if isinstance(p, dict) and p.get("role") == "from"), "")
    return {"id": record.id, "subject": record.subject, "created_at": record.created_at,
            "urgency": record.urgency, "summary": record.summary, "sender": sender}


def special_report(app: App, session: Session, *, project: ProjectConfig, record: Record,
                   now: datetime, kind: str | None = None) -> bool:
    """Queue the special report for ``record`` if it calls for one; False if none or sent."""
    kind = kind or special_kind(record)
    if kind is None:
        return False
    return send_report(app, session, project=project, kind=kind,
                       period=month_of(record.created_at, project.zone),
                       to=special_recipients(project, kind), now=now,
                       extra={"rec": record_facts(record)}, record_id=record.id,
                       run_key=f"record:{record.id}")

