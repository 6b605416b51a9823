"""The latest answer decides (issue 15), end to end over the real SMTP listener, both databases.

A confirmation is not final: a later refusal or question from the same recipient moves the
receipt back, tells the directive's author at once with the reply's own text, and puts a request
that was closed because everyone had confirmed back on the ladder with a new deadline from that
reply. A reply nobody can read keeps the status and asks the author to settle it. The receipt
deadline never falls after the directive's own deadline.
"""

from __future__ import annotations

import email
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.jobs.scheduler import tick
from gateway.store.db import unit_of_work
from gateway.store.receipt_models import ReceiptEvent, ReceiptRequest
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
from tests.receipts.styles import foxmail, outlook, qqmail
from tests.support.mail import wait_for

ORDER = "【指令】核心交换机光模块更换"
ORDER_BODY = "刘洋、陈静：\n请安排核心交换机光模块更换，完成后回复确认。\n李娜\n"


class Mail:
    """Mail into the running gateway by smtplib, waiting until the pipeline processed it."""

    def __init__(self, app: App, port: int, clock: FakeClock) -> None:
        self.app, self.port, self.clock, self.sent = app, port, clock, 0

    def __call__(self, msg: EmailMessage, when: str | None = None) -> None:
        if when:
            self.clock.set(when)
        send(self.port, msg)
        self.sent += 1
        wait_for(lambda: processed(self.app, self.sent))


@pytest.fixture
def mail(app: App, clock: FakeClock, start_server: Callable[..., Any]) -> Mail:
    server = start_server(app)
    return Mail(app, server.smtp_port, clock)


def text_of(raw: bytes) -> str:
    body = email.message_from_bytes(raw, policy=default).get_body(("plain",))
    return body.get_content() if body is not None else ""  # type: ignore[attr-defined]


def request_row(app: App) -> dict[str, Any]:
    with unit_of_work(app.sessions) as s:
        q = s.scalars(select(ReceiptRequest)).one()
        return {"closed": q.closed_at is not None, "round": q.round, "deadline": q.deadline,
                "next_due_at": q.next_due_at}


def readings(app: App, recipient: str) -> list[tuple[str, str | None, str | None]]:
    """(kind, before, after) of the reply readings of one recipient, in order."""
    rid = receipts(app)[ORDER, recipient]["receipt_id"]
    with unit_of_work(app.sessions) as s:
        rows = s.scalars(select(ReceiptEvent).where(ReceiptEvent.receipt_id == rid)
                         .order_by(ReceiptEvent.id)).all()
        return [(e.kind, e.status_before, e.status_after) for e in rows
                if "reading" in e.detail]


def test_confirm_decline_confirm_reopens_the_closed_request_and_tells_the_author(
        app: App, clock: FakeClock, mail: Mail) -> None:
    # Given 李娜's directive, confirmed by both recipients: the request closes
    order = directive(subject=ORDER, sender=LINA, to=[LIUYANG, CHENJING], body=ORDER_BODY)
    mail(order)
    mail(reply(order, sender=LIUYANG, body=outlook("收到，今晚安排。", order, "刘洋")),
         "2026-11-24 10:30")
    mail(reply(order, sender=CHENJING, body=foxmail("明白，按要求执行。", order)),
         "2026-11-24 10:40")
    assert {r["status"] for r in receipts(app).values()} == {"confirmed"}
    assert request_row(app)["closed"] and outbox(app) == []

    # When 刘洋 later writes that he cannot do it after all (QQ Mail, quoting)
    mail(reply(order, sender=LIUYANG, body=qqmail("抱歉，今晚去不了机房，只能顺延到周四。", order)),
         "2026-11-24 14:00")
    # Then his receipt is declined, the others' stay confirmed
    rows = receipts(app)
    assert rows[ORDER, LIUYANG]["status"] == "declined"
    assert rows[ORDER, CHENJING]["status"] == "confirmed"
    # And 李娜 hears of it at once, with his own words and that he had confirmed before
    mails = outbox(app)
    assert [(m["kind"], m["to"]) for m in mails] == [("receipt_answer", [LINA])]
    body = text_of(mails[0]["raw"])
    assert "今晚去不了机房" in body and "此前已确认" in body and "引用" not in body
    # And the request is back on the ladder: a new deadline a working day from the reply
    row = request_row(app)
    assert not row["closed"] and row["round"] == 1
    assert rows[ORDER, LIUYANG]["deadline"] == "2026-11-25T14:00:00+08:00"
    assert row["next_due_at"] is not None

    # When the new deadline passes: a reminder goes to 刘洋 only
    assert tick(app, now=at("2026-11-25 13:59")).mails == []
    tick(app, now=at("2026-11-25 14:00"))
    reminders = [m for m in outbox(app) if m["kind"] == "reminder"]
    assert [m["to"] for m in reminders] == [sorted([LIUYANG, LINA])]
    assert reminders[0]["key"].endswith(":r1")

    # When he confirms again: closed again, and the ladder stops
    mail(reply(order, sender=LIUYANG, body="好的，周三晚上可以安排，收到。"), "2026-11-25 15:00")
    assert receipts(app)[ORDER, LIUYANG]["status"] == "confirmed"
    assert request_row(app)["closed"]
    tick(app, now=at("2026-11-25 18:00"))
    tick(app, now=at("2026-11-27 18:00"))
    assert len(outbox(app)) == 2
    # Every reading is an event, with the rule matches that led to it
    assert readings(app, LIUYANG) == [("confirmed", "pending", "confirmed"),
                                      ("declined", "confirmed", "declined"),
                                      ("confirmed", "declined", "confirmed")]


def test_question_confirm_decline_follows_the_latest_answer(
        app: App, clock: FakeClock, mail: Mail) -> None:
    order = directive(subject=ORDER, sender=LINA, to=[LIUYANG, CHENJING], body=ORDER_BODY)
    mail(order)
    # 陈静 asks, then confirms, then declines
    mail(reply(order, sender=CHENJING, body=outlook("能否改到周四？", order)), "2026-11-24 10:10")
    assert receipts(app)[ORDER, CHENJING]["status"] == "questioned"
    mail(reply(order, sender=CHENJING, body=foxmail("收到，执行前会再确认一次清单版本。", order)),
         "2026-11-24 11:00")
    assert receipts(app)[ORDER, CHENJING]["status"] == "confirmed"
    mail(reply(order, sender=CHENJING, body=qqmail("不好意思，这周忙不过来，赶不及。", order)),
         "2026-11-24 16:00")
    rows = receipts(app)
    assert rows[ORDER, CHENJING]["status"] == "declined"
    assert rows[ORDER, CHENJING]["history_count"] == 3
    assert rows[ORDER, CHENJING]["last_reply_at"] == "2026-11-24T16:00:00+08:00"
    assert rows[ORDER, CHENJING]["needs_review"] is False
    # The author heard of the question and of the refusal, each with its own text
    answers = [m for m in outbox(app) if m["kind"] == "receipt_answer"]
    assert [m["to"] for m in answers] == [[LINA], [LINA]]
    assert "能否改到周四" in text_of(answers[0]["raw"])
    assert "忙不过来" in text_of(answers[1]["raw"]) and "此前已确认" in text_of(answers[1]["raw"])
    # The request was never closed (刘洋 still owes): nothing reopened
    assert request_row(app)["round"] == 0
    assert readings(app, CHENJING) == [("questioned", "pending", "questioned"),
                                       ("confirmed", "questioned", "confirmed"),
                                       ("declined", "confirmed", "declined")]


def test_an_unreadable_reply_keeps_the_status_and_asks_the_author(
        app: App, clock: FakeClock, mail: Mail) -> None:
    order = directive(subject=ORDER, sender=LINA, to=[LIUYANG, CHENJING], body=ORDER_BODY)
    mail(order)
    mail(reply(order, sender=LIUYANG, body=outlook("收到。", order)), "2026-11-24 10:30")
    mail(reply(order, sender=LIUYANG, body=foxmail("转张工处理", order)), "2026-11-24 11:30")
    row = receipts(app)[ORDER, LIUYANG]
    assert row["status"] == "confirmed" and row["needs_review"] is True
    review = [m for m in outbox(app) if m["kind"] == "receipt_review"]
    assert [m["to"] for m in review] == [[LINA]]
    text = text_of(review[0]["raw"])
    assert "转张工处理" in text and "commgate receipts set" in text
    # A clear answer from him settles the review by itself
    mail(reply(order, sender=LIUYANG, body="已确认，今晚完成。"), "2026-11-24 12:00")
    assert receipts(app)[ORDER, LIUYANG]["needs_review"] is False


def test_the_receipt_deadline_never_falls_after_the_directives_own(
        app: App, clock: FakeClock, mail: Mail) -> None:
    # A normal directive (1 working day: Wed 10:00) that must be done tonight by 20:00
    own = directive(subject="【指令】今晚20:00前完成配置备份", sender=LINA, to=[LIUYANG],
                    body="刘洋：\n请于今晚20:00前完成核心交换机配置备份，请回复确认。\n")
    mail(own)
    # An English one due "by Friday 18:00": later than the working day, so the working day
    later = directive(subject="[Directive] inventory report", sender=LINA, to=[CHENJING],
                      body="Please send the spare parts inventory by Friday 18:00. "
                           "Reply to confirm.\n")
    mail(later)
    # An English one due "by 3pm today": earlier
    soon = directive(subject="[Directive] link test", sender=ZHANGWEI, to=[LIUYANG],
                     body="Please finish the backup link test by 3pm today and confirm.\n")
    mail(soon)
    rows = {subject: row for (subject, _r), row in receipts(app).items()}
    assert rows["【指令】今晚20:00前完成配置备份"]["deadline"] == "2026-11-24T20:00:00+08:00"
    assert rows["[Directive] inventory report"]["deadline"] == "2026-11-25T10:00:00+08:00"
    assert rows["[Directive] link test"]["deadline"] == "2026-11-24T15:00:00+08:00"
    # The ladder runs from the directive's deadline: the reminder at 20:00's next opening
    tick(app, now=at("2026-11-24 15:00"))
    assert [(m["kind"], m["to"]) for m in outbox(app)] == [
        ("reminder", sorted([LIUYANG, ZHANGWEI]))]


def test_a_directive_notice_due_caps_the_deadline(app: App, clock: FakeClock) -> None:
    from gateway.notify import notices

    project = app.settings.project("demo")
    prepared = notices.prepare(app.settings, project, kind="directive", sender=ZHANGWEI,
                               to=[LIUYANG], values={"title": "机房巡检",
                                                     "instructions": "请完成A机房巡检。",
                                                     "due": "2026-11-24 16:00"})
    notices.send(app, prepared, project=project, now=clock())
    row = next(iter(receipts(app).values()))
    assert row["deadline"] == "2026-11-24T16:00:00+08:00"
