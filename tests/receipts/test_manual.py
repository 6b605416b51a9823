"""A person settles what mail cannot: every ``commgate receipts`` decision, audited, both databases.

Mail comes in over the real SMTP listener; decisions go through the command line exactly as a
project manager types them, on the test's clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import gateway.cli.receipts
import gateway.cli.receipts_manual
from gateway.app import App
from gateway.cli.main import app as cli
from gateway.jobs.scheduler import tick
from gateway.store.audit_models import AuditEvent
from gateway.store.db import unit_of_work
from gateway.testing.clock import FakeClock
from tests.receipts.conftest import (
    CHENJING,
    LINA,
    LIUYANG,
    ZHANGWEI,
    at,
    directive,
    outbox,
    processed,
    receipts,
    reply,
    send,
)
from tests.receipts.test_latest_answer import text_of
from tests.support.apps import SECRET
from tests.support.mail import wait_for

FIRST = "【指令】更换A机房UPS电池"
SECOND = "【指令】整理备件库存清单"
BODY = "刘洋、陈静：\n请安排，完成后回复确认。\n李娜\n"
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")


@pytest.fixture
def run(app: App, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """``commgate …`` in-process on the test app's database, as of the test's clock."""
    for module in (gateway.cli.receipts, gateway.cli.receipts_manual):
        real = module.open_app

        def on_our_clock(ctx: Any, *, _real: Any = real, **kw: Any) -> Any:
            gw = _real(ctx, **kw)
            gw.clock = clock
            return gw

        monkeypatch.setattr(module, "open_app", on_our_clock)
    settings = app.settings
    env = {"COMMGATE_DATABASE_URL": settings.database_url,
           "COMMGATE_DATA_DIR": str(settings.data_dir), "COMMGATE_SECRET_KEY": SECRET}

    def invoke(*args: str, code: int = 0) -> str:
        """stdout on success; on failure stderr, less the running server's log lines (its
        threads log to whatever stderr the command line has installed)."""
        result = CliRunner().invoke(cli, ["--config", str(settings.config_path), *args],
                                    env=env)
        assert result.exit_code == code, result.output
        if code == 0:
            return result.stdout
        return "".join(line for line in result.stderr.splitlines(keepends=True)
                       if not LOG_LINE.match(line))

    return invoke


@pytest.fixture
def deliver(app: App, clock: FakeClock, start_server: Callable[..., Any]) -> Callable[..., None]:
    server = start_server(app)
    sent = 0

    def go(msg: Any, when: str | None = None) -> None:
        nonlocal sent
        if when:
            clock.set(when)
        send(server.smtp_port, msg)
        sent += 1
        wait_for(lambda: processed(app, sent))

    return go


def audit(app: App, action: str) -> list[AuditEvent]:
    with unit_of_work(app.sessions) as s:
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.seq)))
        s.expunge_all()
        return rows


def test_every_manual_decision_over_the_command_line(
        app: App, clock: FakeClock, run: Callable[..., str], deliver: Callable[..., None]) -> None:
    first = directive(subject=FIRST, sender=LINA, to=[LIUYANG, CHENJING], body=BODY)
    deliver(first)
    rec1 = str(receipts(app)[FIRST, LIUYANG]["record_id"])

    # set: 刘洋 confirmed by phone; 陈静 said in the meeting she cannot
    clock.set("2026-11-24 11:00")
    out = run("receipts", "set", "--project", "demo", "--record", rec1, "--recipient", LIUYANG,
              "--status", "confirmed", "--by", ZHANGWEI, "--note", "电话确认")
    assert "已确认 / confirmed" in out
    run("receipts", "set", "--project", "demo", "--record", rec1, "--recipient", CHENJING,
        "--status", "declined", "--by", ZHANGWEI, "--note", "周会上表示本周无法安排")
    rows = receipts(app)
    assert (rows[FIRST, LIUYANG]["status"], rows[FIRST, CHENJING]["status"]) == (
        "confirmed", "declined")
    answers = outbox(app)
    assert [(m["kind"], m["to"]) for m in answers] == [("receipt_answer", [LINA])]
    assert "周会上表示本周无法安排" in text_of(answers[0]["raw"])
    assert ZHANGWEI in text_of(answers[0]["raw"])
    entries = audit(app, "receipt.set")
    assert [e.actor for e in entries] == [f"user:{ZHANGWEI}"] * 2
    assert entries[0].after["note"] == "电话确认" and entries[0].after["status"] == "confirmed"

    # waive: the work went to 刘洋 alone; everyone left is settled, so the request closes
    run("receipts", "waive", "--project", "demo", "--record", rec1, "--recipient", CHENJING,
        "--by", ZHANGWEI, "--note", "改由刘洋单独负责")
    assert receipts(app)[FIRST, CHENJING]["status"] == "waived"
    assert audit(app, "receipt.closed")
    assert tick(app, now=at("2026-11-26 10:00")).mails == []

    # A second directive: extend 陈静, remind her now, then withdraw it
    second = directive(subject=SECOND, sender=LINA, to=[LIUYANG, CHENJING], body=BODY)
    deliver(second, "2026-11-24 12:00")
    rec2 = str(receipts(app)[SECOND, CHENJING]["record_id"])
    run("receipts", "extend", "--project", "demo", "--record", rec2, "--recipient", CHENJING,
        "--until", "2026-11-27T18:00", "--by", LINA, "--note", "出差，周五回来")
    assert receipts(app)[SECOND, CHENJING]["deadline"] == "2026-11-27T18:00:00+08:00"
    before = len(outbox(app))
    tick(app, now=at("2026-11-25 12:00"))  # 刘洋's deadline; 陈静 is not due yet
    assert [(m["kind"], m["to"]) for m in outbox(app)[before:]] == [
        ("reminder", sorted([LIUYANG, LINA]))]
    clock.set("2026-11-25 13:00")
    run("receipts", "remind", "--project", "demo", "--record", rec2, "--recipient", CHENJING)
    now_mail = outbox(app)[-1]
    assert (now_mail["kind"], now_mail["to"]) == ("reminder", sorted([CHENJING, LINA]))
    assert now_mail["key"].startswith("reminder-now:")
    assert "2026-11-27" in text_of(now_mail["raw"])  # her own, extended deadline
    clock.set("2026-11-25 14:00")
    run("receipts", "withdraw", "--project", "demo", "--record", rec2, "--by", LINA,
        "--note", "方案取消")
    count = len(outbox(app))
    tick(app, now=at("2026-11-25 18:00"))
    tick(app, now=at("2026-11-30 18:00"))
    deliver(reply(second, sender=LIUYANG, body="这个做不了。"), "2026-11-30 19:00")
    assert len(outbox(app)) == count  # nothing more is sent, not even to the author
    assert receipts(app)[SECOND, LIUYANG]["status"] == "declined"  # but it is recorded
    assert receipts(app)[SECOND, LIUYANG]["withdrawn"] is True
    for action in ("receipt.waived", "receipt.extended", "receipt.remind_now",
                   "receipt.withdrawn"):
        assert audit(app, action), action
    assert audit(app, "receipt.withdrawn")[0].actor == f"user:{LINA}"

    # show: per recipient, replies with readings and reasons, and the people's decisions
    shown = run("receipts", "show", "--project", "demo", "--record", rec2)
    assert "已撤回 WITHDRAWN" in shown and "出差，周五回来" in shown
    assert "立即提醒 remind_now" in shown and "reasons: cannot-verb: 做不了" in shown
    assert "「这个做不了。」" in shown
    data = json.loads(run("receipts", "show", "--project", "demo", "--record", rec1,
                          "--json"))
    kinds = {row["recipient"]: [e["kind"] for e in row["events"]] for row in data}
    assert kinds[CHENJING] == ["opened", "set", "waived"]

    # list: filters, header, fields
    listed = run("receipts", "list", "--project", "demo")
    assert listed.splitlines()[0].split()[:4] == ["RECORD", "STATUS", "LVL", "RECIPIENT"]
    declined = json.loads(run("receipts", "list", "--project", "demo", "--status", "declined",
                              "--json"))
    assert [(r["recipient"], r["subject"]) for r in declined] == [(LIUYANG, SECOND)]
    mine = json.loads(run("receipts", "list", "--project", "demo", "--recipient",
                          CHENJING.upper(), "--record", rec1, "--json"))
    assert [(r["status"], r["history_count"], r["needs_review"]) for r in mine] == [
        ("waived", 2, False)]
    assert json.loads(run("receipts", "list", "--project", "demo", "--needs-review",
                          "--json")) == []


def test_settling_a_reply_nobody_could_read(app: App, clock: FakeClock, run: Callable[..., str],
                                            deliver: Callable[..., None]) -> None:
    order = directive(subject=FIRST, sender=LINA, to=[LIUYANG], body=BODY)
    deliver(order)
    deliver(reply(order, sender=LIUYANG, body="我在出差，下周一回来"), "2026-11-24 11:00")
    rec = str(receipts(app)[FIRST, LIUYANG]["record_id"])
    review = json.loads(run("receipts", "list", "--project", "demo", "--needs-review",
                            "--json"))
    assert [(r["recipient"], r["status"]) for r in review] == [(LIUYANG, "pending")]
    assert "REVIEW" in run("receipts", "list", "--project", "demo")
    run("receipts", "set", "--project", "demo", "--record", rec, "--recipient", LIUYANG,
        "--status", "confirmed", "--by", LINA, "--note", "微信确认")
    assert receipts(app)[FIRST, LIUYANG]["needs_review"] is False
    assert receipts(app)[FIRST, LIUYANG]["status"] == "confirmed"


def test_misuse_is_one_line_and_exit_2(app: App, clock: FakeClock, run: Callable[..., str],
                                       deliver: Callable[..., None]) -> None:
    order = directive(subject=FIRST, sender=LINA, to=[LIUYANG], body=BODY)
    deliver(order)
    rec = str(receipts(app)[FIRST, LIUYANG]["record_id"])
    base = ("--project", "demo", "--record", rec)
    cases = [
        (("set", *base, "--recipient", LIUYANG, "--status", "maybe", "--by", ZHANGWEI,
          "--note", "x"), "--status maybe"),
        (("set", *base, "--recipient", "nobody@xdyj.example.com", "--status", "confirmed",
          "--by", ZHANGWEI, "--note", "x"), "owes no receipt"),
        (("set", *base, "--recipient", LIUYANG, "--status", "confirmed",
          "--by", "stranger@example.org", "--note", "x"), "not a member"),
        (("set", "--project", "demo", "--record", "9999", "--recipient", LIUYANG, "--status",
          "confirmed", "--by", ZHANGWEI, "--note", "x"), "asks nobody"),
        (("extend", *base, "--until", "friday", "--by", ZHANGWEI, "--note", "x"),
         "not an ISO 8601 time"),
        (("extend", *base, "--until", "2026-11-20T10:00", "--by", ZHANGWEI, "--note", "x"),
         "not in the future"),
        (("waive", *base, "--recipient", LIUYANG, "--by", ZHANGWEI, "--note", " "),
         "--note"),
        (("list", "--project", "demo", "--status", "lost"), "--status lost"),
        (("show", "--project", "nope", "--record", rec), "no project 'nope'"),
    ]
    for args, words in cases:
        out = run("receipts", *args, code=2)
        assert words in out, (args, out)
        assert "Traceback" not in out and len(out.strip().splitlines()) == 1, out
    run("receipts", "set", *base, "--recipient", LIUYANG, "--status", "confirmed",
        "--by", ZHANGWEI, "--note", "电话确认")
    assert "already confirmed" in run("receipts", "set", *base, "--recipient", LIUYANG,
                                      "--status", "confirmed", "--by", ZHANGWEI,
                                      "--note", "again", code=2)
    assert "nobody to remind" in run("receipts", "remind", *base, code=2)
    run("receipts", "withdraw", *base)
    assert "already withdrawn" in run("receipts", "withdraw", *base, code=2)


def test_an_extension_outlasting_the_ladder_gets_a_round_of_its_own(app: App,
                                                                     clock: FakeClock) -> None:
    from gateway.receipts.manual import Decision, extend
    from tests.receipts.test_guarantees import ingest

    order = directive(subject=FIRST, sender=LINA, to=[LIUYANG, CHENJING], body=BODY)
    ingest(app, order)
    project = app.settings.project("demo")
    rec = int(receipts(app)[FIRST, CHENJING]["record_id"])
    with unit_of_work(app.sessions) as s:
        extend(s, Decision(by=LINA, note="休假", project=project,
                           project_id=app.project_ids["demo"], record_id=rec, now=clock()),
               recipient=CHENJING, until=at("2026-11-30 10:00"))
    # The ladder runs its course for 刘洋 alone
    for when in ("2026-11-25 10:00", "2026-11-25 14:00", "2026-11-26 10:00"):
        tick(app, now=at(when))
    about = [(m["kind"], m["to"]) for m in outbox(app)]
    assert about[0] == ("reminder", sorted([LIUYANG, LINA]))
    assert all(CHENJING not in to for _kind, to in about)
    done = len(about)
    assert tick(app, now=at("2026-11-27 10:00")).mails == []
    # When her extension runs out, the ladder comes back for whoever still owes
    tick(app, now=at("2026-11-30 10:00"))
    again = outbox(app)[done:]
    assert [(m["kind"], m["to"]) for m in again] == [
        ("reminder", sorted([LIUYANG, LINA])), ("reminder", sorted([CHENJING, LINA]))]
    assert all(m["key"].endswith(":r1") for m in again)
