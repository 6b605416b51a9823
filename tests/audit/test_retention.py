"""Retention (policy 7: kept at least 3 years): purge refuses inside retention, without an
archive, or on legal hold; otherwise it removes exactly what is old and archived, records
itself in the audit trail, and keeps raw files another message still shares."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.app import App
from gateway.archive.export import export_project
from gateway.archive.retention import execute_purge, latest_cutoff, plan_purge, remove_unshared_raw
from gateway.audit.verify import verify_project
from gateway.cli.main import app as cli
from gateway.config.settings import Settings
from gateway.errors import RetentionRefused
from gateway.store.audit_models import AuditEvent
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Record
from gateway.testing.clock import FakeClock
from tests.audit.helpers import build, change_notice, deliver

OLD = datetime(2021, 3, 1, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def purge(app: App, before: date, *, dry_run: bool = False) -> tuple[int, int, int]:
    cfg = app.settings.project("demo")
    with unit_of_work(app.sessions) as session:
        plan = plan_purge(session, cfg, app.project_ids["demo"], before, app.clock())
        if dry_run:
            return len(plan.record_ids), len(plan.message_ids), 0
        result = execute_purge(session, plan, actor="user:test", now=app.clock())
    with unit_of_work(app.sessions) as session:
        removed = remove_unshared_raw(session, app.raw, result.raw_candidates)
    return len(plan.record_ids), len(plan.message_ids), removed


def counts(app: App) -> tuple[int, int]:
    with unit_of_work(app.sessions) as s:
        return (s.scalar(select(func.count()).select_from(Record)) or 0,
                s.scalar(select(func.count()).select_from(Message)) or 0)


def old_and_new(app: App, clock: FakeClock) -> tuple[int, int]:
    clock.now = OLD
    old = deliver(app, change_notice("【变更通知】2021年机房搬迁",
                                     message_id="<old-1@xdyj.example.com>", date=OLD))
    clock.now = NOW
    new = deliver(app, change_notice("【变更通知】2026年割接",
                                     message_id="<new-1@xdyj.example.com>"))
    return old, new


def test_latest_cutoff_is_today_minus_retention_years(app: App) -> None:
    cfg = app.settings.project("demo")
    assert latest_cutoff(cfg, NOW) == date(2023, 11, 24)
    assert latest_cutoff(cfg, datetime(2028, 2, 29, 2, tzinfo=UTC)) == date(2025, 2, 28)


def test_purge_refuses_inside_retention_and_without_an_archive(app: App, clock: FakeClock) -> None:
    old_and_new(app, clock)
    with pytest.raises(RetentionRefused, match=r"inside the retention period.*3 years"):
        purge(app, date(2024, 1, 1))
    with pytest.raises(RetentionRefused, match="no archive export"):
        purge(app, date(2022, 1, 1))
    assert counts(app) == (2, 2)


def test_purge_removes_only_what_is_old_and_archived(app: App, clock: FakeClock,
                                                     tmp_path: Path) -> None:
    old, _new = old_and_new(app, clock)
    with unit_of_work(app.sessions) as s:
        old_sha = s.get_one(Message, old).sha256
    export_project(app, "demo", tmp_path / "demo.zip", actor="user:test")
    # A dry run says what would go and changes nothing
    assert purge(app, date(2022, 1, 1), dry_run=True) == (1, 1, 0)
    assert counts(app) == (2, 2)
    # The purge removes the 2021 record, its message and its raw file
    assert purge(app, date(2022, 1, 1)) == (1, 1, 1)
    assert counts(app) == (1, 1)
    assert not app.raw.exists(old_sha)
    # It is an audit event, and the chain (which is never purged) still verifies
    with unit_of_work(app.sessions) as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "purge")).one()
        assert event.after["records"] == 1 and event.after["before"] == "2022-01-01"
    assert verify_project(app, "demo").ok


def test_a_project_on_hold_is_never_purged(make_settings: Callable[..., Settings],
                                           database_url: str, config_dir: Path,
                                           tmp_path: Path) -> None:
    demo = config_dir / "projects" / "demo.toml"
    demo.write_text(demo.read_text(encoding="utf-8").replace(
        "retention_years = 3\n", "retention_years = 3\nhold = true\n"), encoding="utf-8")
    clock = FakeClock()
    app = build(make_settings, database_url, clock)
    try:
        old_and_new(app, clock)
        export_project(app, "demo", tmp_path / "demo.zip", actor="user:test")
        with pytest.raises(RetentionRefused, match="legal hold"):
            purge(app, date(2022, 1, 1))
        assert counts(app) == (2, 2)
    finally:
        app.close()


def test_a_raw_file_shared_with_another_project_stays(make_settings: Callable[..., Settings],
                                                      database_url: str, config_dir: Path,
                                                      tmp_path: Path) -> None:
    # Given a second project that received the very same bytes
    demo = (config_dir / "projects" / "demo.toml").read_text(encoding="utf-8")
    (config_dir / "projects" / "ops.toml").write_text(
        demo.replace('code = "demo"', 'code = "ops"').replace("proj-demo@", "proj-ops@"),
        encoding="utf-8")
    clock = FakeClock(OLD)
    app = build(make_settings, database_url, clock)
    try:
        raw = bytes(change_notice("【变更通知】共享邮件", message_id="<shared@xdyj.example.com>"))
        pk = deliver(app, raw, "demo")
        deliver(app, raw, "ops")
        clock.now = NOW
        export_project(app, "demo", tmp_path / "demo.zip", actor="user:test")
        with unit_of_work(app.sessions) as s:
            sha = s.get_one(Message, pk).sha256
        # When demo's copy is purged
        assert purge(app, date(2022, 1, 1)) == (1, 1, 0)
        # Then the file stays for ops
        assert app.raw.verify(sha)
    finally:
        app.close()


def test_purge_command_refuses_with_exit_2_and_a_reason(app: App, config_dir: Path,
                                                        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k.startswith("COMMGATE_")}
    env.update({"COMMGATE_CONFIG": str(config_dir / "gateway.toml"),
                "COMMGATE_DATA_DIR": str(tmp_path / "var"),
                "COMMGATE_DATABASE_URL": app.settings.database_url,
                "COMMGATE_SECRET_KEY": "test-secret-key-0123456789"})
    runner = CliRunner()
    result = runner.invoke(cli, ["purge", "--project", "demo", "--before", "2026-01-01"],
                           env=env)
    assert result.exit_code == 2
    assert "inside the retention period" in result.output
    result = runner.invoke(cli, ["purge", "--project", "demo", "--before", "2020-01-01",
                                 "--dry-run"], env=env)
    assert result.exit_code == 2 and "no archive export" in result.output
