"""``record_cc``: a record's summary to all relevant stakeholders (policy 4.4).

Relevant: every party of the record (its senders and recipients), every stakeholder of the
record's stakeholder group, and the project manager who owns the records (policy 1.4). The mail
references the record's messages so replies thread back to it, and its subject carries the
record code.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.people import display_name
from gateway.config.settings import ProjectConfig
from gateway.errors import NoticeInvalid
from gateway.records.edit import current_record
from gateway.records.query import message_ids_by_record
from gateway.store.models import Project, Record


def relevant_stakeholders(project: ProjectConfig, record: Record) -> list[str]:
    out = [p["address"] for p in record.parties
           if isinstance(p, dict) and p.get("address")]
    out += [s.email for s in project.stakeholders if s.group == record.stakeholder_group]
    out += [m.email for m in project.members_with("project_manager")]
    return [a for a in dict.fromkeys(out) if a != project.address]


def record_context(session: Session, project: ProjectConfig,
                   record_id: int) -> tuple[dict[str, Any], list[str], list[str]]:
    """The template's ``rec``, the recipients, and the Message-IDs to reference."""
    record = session.get(Record, record_id)
    code = session.scalar(select(Project.code).where(Project.id == record.project_id)) \
        if record is not None else None
    if record is None or code != project.code:  # never another project's summary
        raise NoticeInvalid(f"record_cc: no record {record_id} in project {project.code}",
                            hint=f"`commgate records list --project {project.code}` lists them")
    rec = {
        "id": record.id, "subject": record.subject, "category": record.category,
        "formality": record.formality, "urgency": record.urgency,
        "summary": record.summary, "conclusion": record.conclusion or "",
        "created_at": record.created_at,
        "parties": [display_name(project, str(p.get("address") or ""), p.get("name") or "")
                    for p in record.parties if isinstance(p, dict)],
        "receipts": [{"recipient": r.recipient, "status": r.status,
                      "name": display_name(project, r.recipient, r.recipient_name)}
                     for r in record.receipts],
    }
    refs = message_ids_by_record(session, [record_id]).get(record_id, [])
    return rec, relevant_stakeholders(project, record), refs


def record_thread_refs(session: Session, project_id: int, record_id: int) -> tuple[int, list[str]]:
    """``notice send --record N``: the record (N, or the record N was merged into) and the
    Message-IDs its thread is made of, so the notice is a reply in that thread (RFC 5322
    §3.6.4) and joins the record — not only by its subject tag."""

    record = current_record(session, project_id, record_id)
    if record is None:
        raise NoticeInvalid(f"--record {record_id}: no such record in this project")
    return record.id, message_ids_by_record(session, [record.id]).get(record.id, [])
