"""One scheduler pass, one mail per person (issue 21): four change notices the client has not
confirmed give one digest listing all four, while each item's receipt, step and audit event stay
its own; a "收到" to the digest answers every item."""

from __future__ import annotations

import email
from email.policy import default

from sqlalchemy import select

from gateway.app import App
from gateway.inbound.intake import accept
from gateway.jobs.scheduler import tick
from gateway.notify import notices
from gateway.pipeline import process
from gateway.store.db import unit_of_work
from gateway.store.models import Receipt
from gateway.store.receipt_models import EscalationStep, ReceiptEvent
from gateway.testing.clock import FakeClock
from tests.receipts.conftest import ZHANGWEI, at, outbox
from tests.support.mail import make_mail, upstream_pass

CLIENT = "huang@client.example.cn"
TOPICS = ["增加巡检项", "调整值班表", "更换备件供应商", "延长服务窗口"]


def _change(app: App, summary: str) -> None:
    project = app.settings.project("demo")
    prepared = notices.prepare(app.settings, project, kind="change", sender=ZHANGWEI,
                               to=[CLIENT], values={"change_type": "scope", "summary": summary,
                                                    "reason": "客户要求", "impact": "无",
                                                    "contact": "张伟"})
    notices.send(app, prepared, project=project, now=app.clock())


def test_one_pass_sends_the_client_one_digest_and_keeps_every_item(app: App,
                                                                   clock: FakeClock) -> None:
    # Given four change notices to the client, none confirmed
    for topic in TOPICS:
        _change(app, topic)
    before = len(outbox(app))
    # When the pass at the deadline runs
    report = tick(app, now=at("2026-11-25 10:00"))
    mails = outbox(app)[before:]
    # Then the client gets one mail listing all four, not four mails
    to_client = [m for m in mails if CLIENT in m["to"]]
    assert [m["kind"] for m in to_client] == ["digest"]
    assert len(report.mails) == 1
    digest = email.message_from_bytes(to_client[0]["raw"], policy=default)
    body = digest.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    assert text.startswith("黄经理，您好")
    assert all(topic in text for topic in TOPICS) and "4/4" in text
    assert text.count("proj-demo+r-") == 4  # each item's own reply address
    assert [a.display_name for a in digest["To"].addresses] == ["黄经理"]
    # And each item's state is kept as before: level 1, one step and one event per request
    with unit_of_work(app.sessions) as s:
        assert [r.level for r in s.scalars(select(Receipt))] == [1, 1, 1, 1]
        assert len(s.scalars(select(EscalationStep)).all()) == 4
        assert len(s.scalars(select(ReceiptEvent).where(ReceiptEvent.kind == "reminded"))
                   .all()) == 4
    # The same pass again queues nothing new
    tick(app, now=at("2026-11-25 10:00"))
    assert len(outbox(app)) == before + 1

    # When the client answers the digest "收到"
    clock.set("2026-11-25 11:00")
    answer = make_mail(subject=f"回复：{digest['Subject']}", sender=CLIENT,
                       to="proj-demo@gw.example.com", cc="", body="收到，已确认。\n",
                       in_reply_to=str(digest["Message-ID"]), date=clock.now)
    del answer["References"]  # RFC 5322 §3.6.4: the parent's References plus the parent
    answer["References"] = f"{digest['References']} {digest['Message-ID']}"
    answer["Authentication-Results"] = upstream_pass(CLIENT)  # it passed the trusted upstream
    raw = answer.as_bytes()
    pk = accept(app, project="demo", raw=raw, channel="smtp", will_enqueue=False).message_pk
    assert process(app, pk) == "processed"
    # Then every item is confirmed
    with unit_of_work(app.sessions) as s:
        assert {r.status for r in s.scalars(select(Receipt))} == {"confirmed"}
