"""A project's life cycle on the command line: close (never half-way), reopen, close, list."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jinja2 import UndefinedError
from sqlalchemy import select

from gateway.app import App
from gateway.errors import ArchiveError
from gateway.inbound.intake import accept
from gateway.store.audit_models import AuditEvent, Handover
from gateway.store.db import unit_of_work
from gateway.store.models import Project
from gateway.store.notify_models import OutboxMail
from tests.audit.helpers import change_notice, deliver
from tests.support.apps import cli_for

PM = "zhangwei@xdyj.example.com"


def _open(app: App) -> bool:
    with unit_of_work(app.sessions) as s:
        return s.scalars(select(Project)).one().intake_open


def _actions(app: App) -> list[str]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


@pytest.mark.parametrize("failure", [ArchiveError("disk full"), UndefinedError("'dict object' "
                                                                              "has no attribute")])
def test_a_failed_close_leaves_the_project_open(app: App, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                failure: Exception) -> None:
    deliver(app, change_notice())

    def broken(*_a: Any, **_k: Any) -> Any:
        raise failure

    monkeypatch.setattr("gateway.archive.handover.export_project", broken)
    out = cli_for(app)("project", "close", "demo", "--out", str(tmp_path / "x.zip"), code=2)
    # One line, no traceback, and the project still takes mail
    assert len(out.output.strip().splitlines()) == 1 and "Traceback" not in out.output
    assert _open(app)
    assert _actions(app)[-2:] == ["project.intake_closed", "project.intake_reopened"]
    with unit_of_work(app.sessions) as s:
        assert s.scalars(select(Handover)).first() is None
    accept(app, project="demo", raw=bytes(change_notice("still open")), channel="smtp")


def test_reopen_then_close_hands_over_a_new_archive(app: App, tmp_path: Path) -> None:
    cli = cli_for(app)
    deliver(app, change_notice())
    cli("project", "close", "demo", "--out", str(tmp_path / "first.zip"))
    assert not _open(app)
    refused = cli("project", "reopen", "demo", "--by", PM, "--note", " ", code=2)
    assert "--note is empty" in refused.output
    out = cli("project", "reopen", "demo", "--by", PM, "--note", "保修期内新故障")
    assert "reopened" in out.output and _open(app)
    again = cli("project", "reopen", "demo", "--by", PM, "--note", "x", code=2)
    assert "open already" in again.output
    deliver(app, change_notice("warranty"))
    cli("project", "close", "demo", "--out", str(tmp_path / "second.zip"))
    assert not _open(app)
    with unit_of_work(app.sessions) as s:
        handover = s.scalars(select(Handover)).one()
        keys = sorted(s.scalars(select(OutboxMail.idempotency_key)
                                .where(OutboxMail.kind == "handover")))
        reopened = s.scalars(select(AuditEvent).where(AuditEvent.action ==
                                                      "project.reopened")).one()
    assert len(keys) == 2 and handover.outbox_key == keys[-1] != keys[0]
    assert reopened.actor == f"user:{PM}" and reopened.after["note"] == "保修期内新故障"


def test_project_list_shows_state_records_and_open_receipts(app: App) -> None:
    cli = cli_for(app)
    deliver(app, change_notice())
    lines = cli("project", "list").output.splitlines()
    assert lines[0].split() == ["code", "address", "state", "records", "open", "receipts"]
    assert lines[1].split()[:3] == ["demo", "proj-demo@gw.example.com", "open"]
    [row] = json.loads(cli("project", "list", "--json").output)
    assert set(row) >= {"code", "address", "state", "records", "open_receipts"}
    assert row["records"] == 1 and row["open_receipts"] >= 1
