"""``commgate demo`` as a newcomer runs it: a real process, its own folder, exit 0, and a story
whose outcomes are in the database, the outbox Maildir and the report file — run twice, the
same outcome; pointed at a folder that is not a demo's, it refuses and touches nothing."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.app import App, build_app
from gateway.audit.verify import verify_project
from gateway.cli.demo import MARKER, demo_settings
from gateway.demo.view import maildir, message_state, receipts, records

LINA, LIUYANG, CHENJING = ("lina@xdyj.example.com", "liuyang@xdyj.example.com",
                           "chenjing@xdyj.example.com")
ZHANGWEI, WANGQIANG, SUNZONG = ("zhangwei@xdyj.example.com", "wangqiang@xdyj.example.com",
                                "sunzong@xdyj.example.com")
HUANG = "huang@client.example.cn"

# Exactly what the story must leave in the outbox Maildir, in the order it was queued.
EXPECTED_MAILS = [
    ("change", {HUANG}),                      # 张伟's change notice to the client
    ("receipt_answer", {LINA}),               # 陈静 questioned: 李娜 told at once
    ("receipt_answer", {LINA}),               # 刘洋 confirmed, then declined: told at once
    ("reminder", {LIUYANG, LINA}),            # 10-08 10:00, deadline passed (after the holiday)
    ("reminder", {CHENJING, LINA}),
    ("reminder", {HUANG, ZHANGWEI}),          # the forged 收到 did not count
    ("escalation", {ZHANGWEI, LINA}),         # 10-08 14:00, level 2: the PM
    ("escalation", {WANGQIANG, ZHANGWEI}),    # the PM's own notice: straight to level 3
    ("escalation", {WANGQIANG, LINA}),        # 10-09 10:00, level 3: the dept manager
    ("periodic", {WANGQIANG, SUNZONG}),       # the weekly report
]


def commgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMGATE_")}
    return subprocess.run([sys.executable, "-m", "gateway", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


@pytest.fixture
def workdir(config_dir: Path) -> Path:
    """A folder laid out like the repository: config/ (a copy) and, later, var/."""
    return config_dir.parent


@pytest.fixture
def demo_app(workdir: Path) -> Iterator[App]:
    """Runs the demo once, then opens its database to read what it left."""
    proc = commgate("demo", cwd=workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "去哪里看 / where to look" in proc.stdout
    assert "Traceback" not in proc.stderr
    settings = demo_settings(workdir / "config" / "gateway.toml", workdir / "var" / "demo", 0)
    app = build_app(settings, migrate=False)
    yield app
    app.close()


def test_the_story_leaves_its_records_receipts_mails_and_report(demo_app: App,
                                                                 workdir: Path) -> None:
    # Records: the engineer's directive (internal) and the PM's change notice (customer)
    rows = {r["category"]: r for r in records(demo_app)}
    assert set(rows) == {"directive", "change_notice"}
    assert rows["directive"]["stakeholder_group"] == "internal"
    assert rows["change_notice"]["stakeholder_group"] == "customer"
    assert rows["directive"]["message_count"] == 4  # directive + three answers

    # Receipts: the latest answer decides — 刘洋 confirmed, then declined (…做不了，只能顺延);
    # questioned (收到，但…？); pending (the forged 收到)
    final = {r["recipient"]: r for r in receipts(demo_app)}
    assert {a: r["status"] for a, r in final.items()} == {
        LIUYANG: "declined", CHENJING: "questioned", HUANG: "pending"}
    assert final[LIUYANG]["history_count"] == 2
    # One working day from Wed 09-30 09:30 skips National Day (10-01…10-07)
    assert final[CHENJING]["deadline"] == "2026-10-08T09:30:00+08:00"
    assert final[CHENJING]["level"] == 3 and final[HUANG]["level"] == 3
    assert final[LIUYANG]["level"] == 3

    # The forged reply is kept, flagged, and never counted
    forged = [n for n in final[HUANG]["notes"] if n.get("kind") == "forged"]
    assert forged, final[HUANG]["notes"]

    # Exactly the expected mails reached the outbox Maildir
    mails = maildir(demo_app)
    assert [(m.kind, set(m.to)) for m in mails] == EXPECTED_MAILS
    assert all(m.path.is_file() and m.path.parent.name == "new" for m in mails)
    assert all("[demo#R" in m.subject for m in mails if m.kind in ("reminder", "escalation"))

    # As the client and the PM read them (issue 21): names, the project's time, no raw keys
    for m in mails:
        mail = email.message_from_bytes(m.path.read_bytes(), policy=email.policy.default)
        assert str(mail["Date"]).endswith("+0800"), (m.kind, mail["Date"])
        assert all(a.display_name for h in ("To", "Cc") if mail[h] for a in mail[h].addresses)
        body = mail.get_body(("plain",))
        text = body.get_content() if body is not None else ""
        assert "huang，" not in text and "huang <" not in text
    to_client = [m for m in mails if m.kind == "reminder" and HUANG in m.to]
    body = email.message_from_bytes(to_client[0].path.read_bytes(),
                                    policy=email.policy.default).get_body(("plain",))
    assert body is not None and body.get_content().startswith("黄经理，您好")

    # The weekly report's HTML was written where the demo said, its sections agreeing
    html = workdir / "var" / "demo" / "reports" / "weekly-2026-W40.html"
    assert html.is_file() and "2026-W40" in html.read_text(encoding="utf-8")
    text = html.with_suffix(".txt").read_text(encoding="utf-8")
    overdue = text.split("逾期未确认的人员:", 1)[1].split("升级:", 1)[0]
    assert "陈静" in overdue and "黄经理" in overdue and "无" not in overdue

    # What the story did is what its audit chain says: nothing it cannot explain
    report = verify_project(demo_app, "demo")
    assert report.ok and report.receipts == 3, report.lines()

    # Nothing of a real `serve` was touched: only the demo's folder exists under var/
    assert sorted(p.name for p in (workdir / "var").iterdir()) == ["demo"]
    assert (workdir / "var" / "demo" / MARKER).is_file()


def test_running_it_again_starts_over(demo_app: App, workdir: Path) -> None:
    first = [m.kind for m in maildir(demo_app)]
    ids = {r["message_id"] for r in receipts(demo_app)}
    proc = commgate("demo", cwd=workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    demo_app.engine.dispose()  # the old database file was wiped: reconnect to the new one
    again = [m.kind for m in maildir(demo_app)]
    assert again == first  # wiped and redone, not doubled
    assert {r["message_id"] for r in receipts(demo_app)}.isdisjoint(ids)
    assert message_state(demo_app, next(iter(ids))) == {}


def test_it_refuses_a_folder_that_is_not_a_demos(workdir: Path) -> None:
    precious = workdir / "var" / "precious.txt"
    precious.parent.mkdir(parents=True)
    precious.write_text("real data")
    for folder in ("var", "var/.."):  # the gateway's own data folder, or one above it
        proc = commgate("demo", "--data-dir", folder, cwd=workdir)
        assert proc.returncode == 2 and "data folder" in proc.stderr
    other = workdir / "elsewhere"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    proc = commgate("demo", "--data-dir", str(other), cwd=workdir)
    assert proc.returncode == 2 and "not an earlier demo's folder" in proc.stderr
    assert precious.read_text() == "real data" and (other / "notes.txt").is_file()
