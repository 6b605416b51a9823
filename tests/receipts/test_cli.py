"""The public commands: ``commgate tick``, ``commgate receipts list``, ``commgate scheduler``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gateway.app
from gateway.app import App
from gateway.cli.main import app as cli
from gateway.testing.clock import FakeClock
from tests.receipts.conftest import LINA, LIUYANG, directive, outbox, reply
from tests.receipts.test_guarantees import ingest

SUBJECT = "【指令】周五前提交巡检报告"


@pytest.fixture
def database_url(tmp_path: Path) -> str:  # the commands are the same on every backend
    return f"sqlite:///{tmp_path / 'var' / 'commgate.db'}"


@pytest.fixture
def run(app: App, config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    # The schema comes from the models in these tests (the lead generates migrations).
    monkeypatch.setattr(gateway.app, "upgrade", lambda engine: None)
    env = {"COMMGATE_DATA_DIR": str(tmp_path / "var"),
           "COMMGATE_DATABASE_URL": app.settings.database_url,
           "COMMGATE_SECRET_KEY": "test-secret-key-0123456789"}

    def invoke(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(cli, ["--config", str(config_dir / "gateway.toml"), *args],
                                    env=env)
        assert result.exit_code == code, result.output
        return result.output

    return invoke


def test_tick_dry_run_then_for_real_then_receipts_list(app: App, clock: FakeClock, run) -> None:  # type: ignore[no-untyped-def]
    order = directive(subject=SUBJECT, sender=LINA, to=[LIUYANG, "chenjing@xdyj.example.com"],
                      body="请周五前提交巡检报告，请回复确认。\n")
    ingest(app, order)
    clock.set("2026-11-24 11:00")
    ingest(app, reply(order, sender=LIUYANG, body="收到。"))

    early = run("tick", "--now", "2026-11-25T09:00+08:00")
    assert "0 mail(s) queued" in early
    dry = run("tick", "--now", "2026-11-25T10:00+08:00", "--dry-run", "--project", "demo")
    assert "would queue reminder" in dry and "chenjing@xdyj.example.com" in dry
    assert "(dry run)" in dry and outbox(app) == []

    rows = json.loads(run("receipts", "list", "--project", "demo", "--json"))
    assert [(r["recipient"], r["status"], r["level"]) for r in rows] == [
        (LIUYANG, "confirmed", 0), ("chenjing@xdyj.example.com", "pending", 0)]
    for key in ("record_id", "message_id", "recipient", "status", "deadline", "level"):
        assert key in rows[0]
    assert rows[0]["message_id"] == str(order["Message-ID"]).strip("<>")
    assert rows[0]["deadline"] == "2026-11-25T10:00:00+08:00"

    done = run("tick", "--now", "2026-11-25T10:00")  # no offset: the project's zone
    assert "1 mail(s) queued" in done
    assert [m["kind"] for m in outbox(app)] == ["reminder"]
    overdue = json.loads(run("receipts", "list", "--project", "demo", "--overdue", "--json",
                             "--now", "2026-11-25T10:00+08:00"))
    assert [(r["recipient"], r["level"], r["overdue"]) for r in overdue] == [
        ("chenjing@xdyj.example.com", 1, True)]
    text = run("receipts", "list", "--project", "demo")
    assert "chenjing@xdyj.example.com" in text


def test_bad_input_is_one_line(run) -> None:  # type: ignore[no-untyped-def]
    assert "not an ISO 8601 time" in run("tick", "--now", "tomorrow", code=2)
    assert "no project 'nope'" in run("receipts", "list", "--project", "nope", code=2)
