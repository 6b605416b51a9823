"""``commgate audit verify``: the project's audit chain and every stored raw message, checked.

The chain check (:func:`gateway.audit.verify_project_chain`) finds any edited, inserted or
deleted audit entry; the raw check hashes each message's file in the raw store against the
SHA-256 recorded when it arrived (``RawStore.verify``), so an altered or deleted ``.eml`` is
named by message id. Both read in batches: a 100k-message project verifies in bounded memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.audit import Break, verify_project_chain
from gateway.store.audit_models import AuditEvent
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from gateway.store.raw import RawStore

if TYPE_CHECKING:
    from gateway.app import App


@dataclass
class VerifyReport:
    project: str
    events: int = 0
    messages: int = 0
    chain: list[Break] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.chain and not self.raw

    def lines(self) -> list[str]:
        out = [f"audit chain of {self.project}: {self.events} event(s), "
               + ("intact" if not self.chain else f"{len(self.chain)} break(s)")]
        out += [f"  BROKEN {b}" for b in self.chain]
        out.append(f"raw messages: {self.messages} checked, "
                   + ("all match their SHA-256" if not self.raw else f"{len(self.raw)} bad"))
        out += [f"  BROKEN {line}" for line in self.raw]
        return out


def bad_messages(session: Session, raw: RawStore, project_id: int) -> Iterator[str]:
    q = (select(Message.id, Message.message_id, Message.sha256)
         .where(Message.project_id == project_id).order_by(Message.id)
         .execution_options(yield_per=1000))
    for pk, mid, sha in session.execute(q):
        if not raw.verify(sha):
            state = "altered" if raw.exists(sha) else "missing"
            yield f"message id {pk} <{mid}>: raw message {state} (expected SHA-256 {sha})"


def verify_project(app: App, code: str) -> VerifyReport:
    pid = app.project_ids[app.settings.project(code).code]
    report = VerifyReport(project=code)
    with unit_of_work(app.sessions) as session:
        report.events = session.scalar(select(func.count()).select_from(AuditEvent)
                                       .where(AuditEvent.project_id == pid)) or 0
        report.chain = verify_project_chain(session, pid)
        report.messages = session.scalar(select(func.count()).select_from(Message)
                                         .where(Message.project_id == pid)) or 0
        report.raw = list(bad_messages(session, app.raw, pid))
    return report
