"""Receipts end to end: real SMTP listener, demo project, replies in every style, chosen ticks.

The clock is the test's: mail is received at the times set, and ``tick`` runs as of the times
chosen. The outbox must hold exactly the reminders, escalations and notices expected.
"""

from __future__ import annotations

import email
import smtplib
from collections.abc import Callable
from email.policy import default

from gateway.app import App
from gateway.jobs.scheduler import tick
from gateway.testing.clock import FakeClock
from tests.receipts.conftest import (
    CHENJING,
    LINA,
    LIUYANG,
    PROJECT,
    WANGQIANG,
    ZHANGWEI,
    at,
    directive,
    message_flags,
    outbox,
    processed,
    receipts,
    reply,
    send,
)
from tests.receipts.styles import foxmail, mdn, outlook, qqmail
from tests.support.mail import wait_for

# No deadline of its own (test_latest_answer.py has one that sets it): the ladder by urgency.
INSPECTION = "【指令】核心交换机巡检"
INSPECTION_BODY = ("刘洋、陈静：\n请安排核心交换机巡检，重点检查光模块告警，"
                   "完成后回复确认。\n李娜\n")


def test_an_engineers_directive_is_confirmed_reminded_and_escalated(
        app: App, clock: FakeClock, start_server: Callable[..., object]) -> None:
    server = start_server(app)
    port: int = server.smtp_port  # type: ignore[attr-defined]
    sent = 0

    def deliver(msg: object, rcpt: list[str] | None = None, raw: bytes | None = None) -> None:
        nonlocal sent
        if raw is not None:
            with smtplib.SMTP("127.0.0.1", port) as smtp:
                smtp.sendmail(LIUYANG, rcpt or [PROJECT], raw)
        else:
            send(port, msg, rcpt=rcpt)  # type: ignore[arg-type]
        sent += 1
        wait_for(lambda: processed(app, sent))

    # Given 李娜's directive to 刘洋 and 陈静, CC'd to the project, on Tuesday 10:00
    order = directive(subject=INSPECTION, sender=LINA, to=[LIUYANG, CHENJING],
                      body=INSPECTION_BODY)
    deliver(order)
    rows = receipts(app)
    assert {r for _s, r in rows} == {LIUYANG, CHENJING}  # never the sender or the project
    assert all(r["status"] == "pending" and r["level"] == 0 for r in rows.values())
    assert rows[INSPECTION, LIUYANG]["deadline"] == "2026-11-25T10:00:00+08:00"  # 1 working day
    assert rows[INSPECTION, LIUYANG]["message_id"] == str(order["Message-ID"]).strip("<>")

    # When 陈静's out-of-office answers, and a forged "收到" claims to come from 刘洋
    clock.set("2026-11-24 10:05")
    ooo = reply(order, sender=CHENJING, body="我正在休假，11月30日返回。紧急事务请联系刘洋。",
                subject_prefix="自动回复: ", headers={"Auto-Submitted": "auto-replied"})
    deliver(ooo)
    forged = reply(order, sender=LIUYANG, body=outlook("收到，今晚完成。", order),
                   headers={"Authentication-Results":
                            "mx.xdyj.example.com; dmarc=fail header.from=xdyj.example.com"})
    deliver(forged)
    # Then neither counts; the forgery is flagged and the auto-reply noted
    rows = receipts(app)
    assert rows[INSPECTION, LIUYANG]["status"] == "pending"
    assert rows[INSPECTION, CHENJING]["status"] == "pending"
    assert rows[INSPECTION, CHENJING]["notes"][-1]["kind"] == "auto_reply"
    assert rows[INSPECTION, LIUYANG]["notes"][-1]["kind"] == "forged"
    assert "dmarc=fail" in message_flags(app, str(forged["Message-ID"]))["forged"]["reasons"]

    # When 刘洋's mail program sends a read receipt
    deliver(None, raw=mdn(order, reader=LIUYANG, to=LINA))
    assert receipts(app)[INSPECTION, LIUYANG]["status"] == "read"  # read, never confirmed

    # When nothing else happens until the deadline (Wednesday 10:00)
    assert tick(app, now=at("2026-11-25 09:59")).mails == []
    tick(app, now=at("2026-11-25 10:00"))
    # Then each unconfirmed recipient gets one reminder, 李娜 in copy, a signed Reply-To
    mails = outbox(app)
    assert [(m["kind"], m["to"]) for m in mails] == [
        ("reminder", sorted([LIUYANG, LINA])), ("reminder", sorted([CHENJING, LINA]))]
    to_chenjing = email.message_from_bytes(mails[1]["raw"], policy=default)
    token_address = str(to_chenjing["Reply-To"].addresses[0].addr_spec)
    assert token_address.startswith("proj-demo+r-")
    assert str(to_chenjing["In-Reply-To"]) == str(order["Message-ID"])
    assert {r["level"] for r in receipts(app).values()} == {1}

    # When 陈静 answers the reminder on its token address (Foxmail quoting the reminder)
    clock.set("2026-11-25 10:30")
    answer = reply(order, sender=CHENJING, body=foxmail("收到，马上处理。", order),
                   to=[token_address], in_reply_to=str(to_chenjing["Message-ID"]))
    del answer["Cc"]
    deliver(answer, rcpt=[token_address])
    assert receipts(app)[INSPECTION, CHENJING]["status"] == "confirmed"

    # When the PM level falls due (deadline + 4 working hours), twice over
    tick(app, now=at("2026-11-25 14:00"))
    tick(app, now=at("2026-11-25 14:00"))
    mails = outbox(app)
    assert [(m["kind"], m["to"]) for m in mails[2:]] == [("escalation", sorted([ZHANGWEI, LINA]))]
    body = email.message_from_bytes(mails[2]["raw"], policy=default).get_body(("plain",))
    text = body.get_content() if body is not None else ""
    assert "刘洋" in text and "已读未确认" in text and "光模块告警" in text
    assert "陈静 <" not in text  # she confirmed
    assert receipts(app)[INSPECTION, LIUYANG]["level"] == 2

    # When 刘洋 finally confirms (Outlook quoting, original text with 请回复确认 below)
    clock.set("2026-11-25 15:00")
    deliver(reply(order, sender=LIUYANG, body=outlook("收到，已完成巡检。", order, "刘洋")))
    rows = receipts(app)
    assert {r["status"] for r in rows.values()} == {"confirmed"}

    # Then the ladder stops: no mail to the department manager a day later
    tick(app, now=at("2026-11-26 10:00"))
    tick(app, now=at("2026-11-30 10:00"))
    assert len(outbox(app)) == 3
    assert WANGQIANG not in {a for m in outbox(app) for a in m["to"]}


OUTAGE = "【紧急】【指令】今晚割接前完成核心交换机配置备份"
OUTAGE_BODY = "李娜、刘洋：\n今晚割接前务必完成核心交换机配置备份，请回复确认。\n张伟\n"


def test_a_pms_urgent_directive_reports_questions_and_goes_straight_to_the_dept_manager(
        app: App, clock: FakeClock, start_server: Callable[..., object]) -> None:
    server = start_server(app)
    port: int = server.smtp_port  # type: ignore[attr-defined]
    sent = 0

    def deliver(msg: object) -> None:
        nonlocal sent
        send(port, msg)  # type: ignore[arg-type]
        sent += 1
        wait_for(lambda: processed(app, sent))

    # Given 张伟's (the PM's) urgent directive to 李娜 and 刘洋 on Tuesday 10:00
    order = directive(subject=OUTAGE, sender=ZHANGWEI, to=[LINA, LIUYANG], body=OUTAGE_BODY)
    deliver(order)
    assert receipts(app)[OUTAGE, LINA]["deadline"] == "2026-11-24T14:00:00+08:00"  # 4 h

    # When 李娜 declines (QQ Mail) and 刘洋 asks a question (Foxmail)
    clock.set("2026-11-24 10:20")
    deliver(reply(order, sender=LINA, body=qqmail("今晚无法按期完成，备份服务器还没到货。", order)))
    deliver(reply(order, sender=LIUYANG, body=foxmail("请问是哪几台交换机？", order)))
    rows = receipts(app)
    assert rows[OUTAGE, LINA]["status"] == "declined"
    assert rows[OUTAGE, LIUYANG]["status"] == "questioned"
    # Then 张伟 hears of each at once
    assert [(m["kind"], m["to"]) for m in outbox(app)] == [
        ("receipt_answer", [ZHANGWEI]), ("receipt_answer", [ZHANGWEI])]

    # When the deadline passes: both are reminded (they still have not confirmed)
    tick(app, now=at("2026-11-24 14:00"))
    assert [(m["kind"], m["to"]) for m in outbox(app)[2:]] == [
        ("reminder", sorted([LINA, ZHANGWEI])), ("reminder", sorted([LIUYANG, ZHANGWEI]))]

    # When the PM level falls due: the PM wrote it, so the dept manager is told instead
    tick(app, now=at("2026-11-24 18:00"))
    escalations = outbox(app)[4:]
    assert [(m["kind"], m["to"]) for m in escalations] == [
        ("escalation", sorted([WANGQIANG, ZHANGWEI]))]
    text = email.message_from_bytes(escalations[0]["raw"], policy=default).get_body(("plain",))
    assert text is not None and "表示无法执行" in text.get_content()
    assert "有疑问" in text.get_content()

    # Then the dept manager's own level (a day after the deadline) sends nothing more
    tick(app, now=at("2026-11-25 14:00"))
    tick(app, now=at("2026-11-27 14:00"))
    assert len(outbox(app)) == 5
    assert {r["level"] for r in receipts(app).values()} == {3}
