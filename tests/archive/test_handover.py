"""Closing a project (policy 7): intake stops, the archive is exported and handed to the quality
department's interface person through the outbox, once; periodic archives follow the config."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.archive.handover import close_project
from gateway.archive.periodic import archive_due
from gateway.archive.verify import verify_archive
from gateway.errors import IntakeClosed
from gateway.inbound.intake import accept
from gateway.store.audit_models import ArchiveExport, AuditEvent, Handover
from gateway.store.db import unit_of_work
from gateway.store.models import Project
from gateway.store.notify_models import OutboxMail
from gateway.testing.clock import FakeClock
from tests.audit.helpers import change_notice, deliver


def test_closing_a_project_hands_the_archive_to_quality(app: App, tmp_path: Path) -> None:
    deliver(app, change_notice(attachments={"割接方案.docx": b"plan"}))
    out = tmp_path / "demo-handover.zip"
    # When the project manager closes the project
    result = close_project(app, "demo", out=out, actor="user:zhangwei")
    # Then the archive verifies and is mailed to 吴磊 of 质量效能部, the PM in Cc, attached
    assert result.archive is not None and verify_archive(out) == []
    assert result.recipient == "wulei@xdyj.example.com" and result.attached
    with unit_of_work(app.sessions) as s:
        mail = s.scalars(select(OutboxMail).where(OutboxMail.kind == "handover")).one()
        raw = mail.raw.decode("utf-8", "replace")
        assert "wulei@xdyj.example.com" in raw and "zhangwei@xdyj.example.com" in raw
        assert "application/zip" in raw
        # The mail carries the audit chain head: an anchor outside the gateway's database
        body = email.message_from_bytes(mail.raw, policy=email.policy.default)
        text = next(part.get_content() for part in body.walk()
                    if part.get_content_type() == "text/plain")
        assert result.archive is not None and result.archive.audit_hash in text
        assert f"审计链锚点：seq {result.archive.audit_seq}" in text
        handover = s.scalars(select(Handover)).one()
        assert handover.department == "质量效能部" and handover.archive_id
        assert s.scalars(select(Project)).one().intake_open is False
        actions = list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert actions[-3:] == ["project.intake_closed", "archive.export", "project.handover"]
    # And the project's address takes no more mail
    with pytest.raises(IntakeClosed):
        accept(app, project="demo", raw=bytes(change_notice("late")), channel="smtp")
    # Closing again changes nothing
    again = close_project(app, "demo", out=None, actor="user:zhangwei")
    assert again.archive is None and again.handover_id == handover.id


def test_periodic_archives_once_per_month(app: App, clock: FakeClock) -> None:
    deliver(app, change_notice())
    # The project was registered in November: the first archive waits for the month's end
    assert archive_due(app) == []
    clock.now = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai: December
    assert [r.path.name for r in archive_due(app)] == ["demo-2026-12.zip"]
    assert archive_due(app) == []
    clock.now = datetime(2027, 1, 1, 0, 30, tzinfo=UTC)
    assert [r.path.name for r in archive_due(app)] == ["demo-2027-01.zip"]
    with unit_of_work(app.sessions) as s:
        kinds = list(s.scalars(select(ArchiveExport.kind)))
    assert kinds == ["periodic", "periodic"]
