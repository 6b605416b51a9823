"""Replies from many mail clients, over the real SMTP listener: the stored own text is exactly
what the recipient wrote, and the receipt reads it — never the quoted directive below it."""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage

from sqlalchemy import select

from gateway.app import App
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from gateway.testing.clock import FakeClock
from tests.receipts import styles
from tests.receipts.conftest import (
    CHENJING,
    LINA,
    LIUYANG,
    directive,
    processed,
    receipts,
    reply,
    send,
)
from tests.support.mail import wait_for

BODY = "刘洋、陈静：\n请于今晚22:00前完成核心交换机巡检，完成后回复确认。\n李娜\n"

# (client, own text as written, expected own text, how the body is built, HTML?, status)
Build = Callable[[str, EmailMessage], str]
CASES: list[tuple[str, str, str, Build, bool, str]] = [
    ("Outlook on the web", "今晚无法按期完成，备件还没到。", "今晚无法按期完成，备件还没到。",
     styles.outlook_web_html, True, "declined"),
    ("iPhone Mail", "收到，今晚完成。", "收到，今晚完成。", styles.iphone_html, True, "confirmed"),
    ("NetEase 163", "请问是哪几台交换机？", "请问是哪几台交换机？", styles.netease_html, True,
     "questioned"),
    ("Gmail zh", "明白，按时完成。", "明白，按时完成。", styles.gmail_zh, False, "confirmed"),
    ("Mail Master", "今晚无法按期完成。", "今晚无法按期完成。", styles.mailmaster, False,
     "declined"),
    ("DingTalk", "收到，今晚22点前完成。", "收到，今晚22点前完成。", styles.dingtalk, False,
     "confirmed"),
    ("Zoho", "已确认", "已确认", styles.zoho_top, False, "confirmed"),
    ("top attribution", "收到，马上处理。", "收到，马上处理。", styles.top_attribution, False,
     "confirmed"),
    ("Outlook desktop", "好的，明白。", "好的，明白。",
     lambda own, original: styles.outlook(own, original, "刘洋"), False, "confirmed"),
]


def _own_text(app: App, message_id: str) -> str:
    with unit_of_work(app.sessions) as s:
        return s.scalars(select(Message.own_text).where(
            Message.message_id == message_id.strip("<>"))).one()


def test_each_clients_reply_is_stored_and_read_by_its_own_text(
        app: App, clock: FakeClock, start_server: Callable[..., object]) -> None:
    server = start_server(app)
    port: int = server.smtp_port  # type: ignore[attr-defined]
    sent = 0

    def deliver(msg: EmailMessage) -> None:
        nonlocal sent
        send(port, msg)
        sent += 1
        wait_for(lambda: processed(app, sent))

    answers: list[tuple[str, str, str, str, str]] = []
    for number, (client, written, want, build, html, status) in enumerate(CASES, 1):
        # Given 李娜's directive, which itself asks for a confirmation
        subject = f"【指令】巡检第{number}组交换机"
        order = directive(subject=subject, sender=LINA, to=[LIUYANG, CHENJING], body=BODY)
        deliver(order)
        # When 刘洋 answers from this client, the directive quoted below his text
        clock.set(f"2026-11-24 10:{number:02d}")
        body = build(written, order)
        answer = reply(order, sender=LIUYANG, body="x" if html else body)
        if html:
            answer.set_content(body, subtype="html")
        deliver(answer)
        answers.append((client, subject, str(answer["Message-ID"]), want, status))

    rows = receipts(app)
    for client, subject, message_id, want, status in answers:
        # Then the stored own text is exactly his, and his receipt reads that text alone
        assert _own_text(app, message_id) == want, client
        assert rows[subject, LIUYANG]["status"] == status, client
        assert rows[subject, CHENJING]["status"] == "pending", client


def test_an_inline_answer_under_a_pointer_is_the_reply(
        app: App, clock: FakeClock, start_server: Callable[..., object]) -> None:
    server = start_server(app)
    port: int = server.smtp_port  # type: ignore[attr-defined]
    order = directive(subject="【指令】今晚巡检", sender=LINA, to=[LIUYANG],
                      body="今晚能否完成核心交换机巡检？\n需要停机吗？\n")
    send(port, order)
    wait_for(lambda: processed(app, 1))
    # When 刘洋 writes "答复见下文" and answers between the quoted questions
    clock.set("2026-11-24 10:30")
    answer = reply(order, sender=LIUYANG, body=styles.gmail_inline(
        ["可以，22点前完成。", "不需要停机。"], order))
    send(port, answer)
    wait_for(lambda: processed(app, 2))
    # Then the answers are his own text, the pointer and the quoted questions are not
    assert _own_text(app, str(answer["Message-ID"])) == "可以，22点前完成。\n不需要停机。"
    assert receipts(app)["【指令】今晚巡检", LIUYANG]["status"] == "confirmed"
