"""Reading the demo's results back: a message's record and receipts, the outbox Maildir.

``commgate demo`` narrates each step from what the gateway stored — never from what the demo
meant to happen — so every line it prints is evidence the pipeline worked. The same readers give
``tests/test_demo.py`` its assertions. Each function opens its own unit of work and only reads.
"""

from __future__ import annotations

import email
from dataclasses import dataclass
from email.policy import default
from pathlib import Path
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.receipts.query import list_receipts
from gateway.records.query import RecordFilter, record_views
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Record
from gateway.store.notify_models import OutboxMail

CODE = "demo"


def message_state(app: App, message_id: str) -> dict[str, Any]:
    """State, flags and record of one stored message, by its Message-ID."""
    with unit_of_work(app.sessions) as session:
        msg = session.scalars(select(Message).where(
            Message.message_id == message_id.strip().strip("<>"))).first()
        if msg is None:
            return {}
        record = session.get(Record, msg.record_id) if msg.record_id else None
        return {"pk": msg.id, "state": msg.state, "flags": dict(msg.flags or {}),
                "record_id": msg.record_id,
                "category": record.category if record else None,
                "group": record.stakeholder_group if record else None,
                "formality": record.formality if record else None,
                "urgency": record.urgency if record else None}


def all_settled(app: App, expected: int) -> bool:
    """At least ``expected`` messages stored and none still waiting for the pipeline."""
    with unit_of_work(app.sessions) as session:
        states = list(session.scalars(select(Message.state)))
    return len(states) >= expected and "received" not in states


def receipts(app: App, *, message_id: str | None = None) -> list[dict[str, Any]]:
    """Rows as ``commgate receipts list --json`` shows them (of one message when given)."""
    project = app.settings.project(CODE)
    with unit_of_work(app.sessions) as session:
        rows = list_receipts(session, project_id=app.project_ids[CODE], zone=project.zone,
                             now=app.clock())
    if message_id is not None:
        wanted = message_id.strip().strip("<>")
        rows = [r for r in rows if r["message_id"] == wanted]
    return rows


def records(app: App) -> list[dict[str, Any]]:
    """Rows as ``commgate records export --project demo`` writes them."""
    with unit_of_work(app.sessions) as session:
        return record_views(session, RecordFilter(project=CODE))


@dataclass(frozen=True)
class DeliveredMail:
    """One file of the outbox Maildir, with the outbox row it came from."""

    outbox_id: int
    kind: str
    to: tuple[str, ...]
    subject: str
    path: Path


def maildir(app: App) -> list[DeliveredMail]:
    """Every mail in the outbox Maildir, in the order the gateway queued them."""
    folder = app.settings.outbox_dir
    if not folder.exists():
        return []
    found: dict[str, tuple[list[str], str, Path]] = {}
    for path in sorted([*folder.glob("new/*"), *folder.glob("cur/*")]):
        msg = email.message_from_bytes(path.read_bytes(), policy=default)
        envelope = str(msg.get("X-Commgate-Envelope-To", ""))
        found[str(msg["Message-ID"]).strip().strip("<>")] = (
            [a.strip() for a in envelope.split(",") if a.strip()],
            " ".join(str(msg["Subject"]).split()), path)
    out: list[DeliveredMail] = []
    with unit_of_work(app.sessions) as session:
        rows = session.execute(select(OutboxMail.id, OutboxMail.kind, OutboxMail.message_id)
                               .order_by(OutboxMail.id)).all()
    for outbox_id, kind, message_id in rows:
        hit = found.pop(str(message_id).strip().strip("<>"), None)
        if hit is not None:
            out.append(DeliveredMail(outbox_id, kind, tuple(hit[0]), hit[1], hit[2]))
    # Files no outbox row explains (should not happen) are still shown, last.
    out += [DeliveredMail(0, "?", tuple(to), subject, path)
            for to, subject, path in found.values()]
    return out
