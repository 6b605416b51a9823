"""Reminders and escalations name people as the project file does (issue 21): the client is
greeted "黄经理，您好", never by the local part of the address."""

from __future__ import annotations

import email
from email.policy import default

from gateway.app import App
from gateway.jobs.scheduler import tick
from gateway.notify import notices
from gateway.testing.clock import FakeClock
from tests.receipts.conftest import ZHANGWEI, at, outbox

CLIENT = "huang@client.example.cn"
CHANGE = {"change_type": "scope", "summary": "增加巡检项", "reason": "客户要求",
          "impact": "每月多一次巡检", "contact": "张伟 138-0000-0000"}


def _text(raw: bytes) -> tuple[email.message.EmailMessage, str]:
    mail = email.message_from_bytes(raw, policy=default)
    body = mail.get_body(("plain",))
    assert body is not None
    return mail, body.get_content()  # type: ignore[return-value]


def test_the_client_is_reminded_and_escalated_by_name(app: App, clock: FakeClock) -> None:
    project = app.settings.project("demo")
    # Given a change notice to the client's bare address, from the project manager
    prepared = notices.prepare(app.settings, project, kind="change", sender=ZHANGWEI,
                               to=[CLIENT], values=CHANGE)
    notices.send(app, prepared, project=project, now=app.clock())
    before = len(outbox(app))
    # When nobody confirms by the deadline, and later by the escalation levels
    tick(app, now=at("2026-11-25 10:00"))
    tick(app, now=at("2026-11-26 18:00"))
    mails = outbox(app)[before:]
    reminder = next(m for m in mails if m["kind"] == "reminder")
    mail, text = _text(reminder["raw"])
    # Then the reminder greets the client by the configured name, in its To: as well
    assert text.startswith("黄经理，您好")
    assert "huang，" not in text and "huang <" not in text
    assert [a.display_name for a in mail["To"].addresses] == ["黄经理"]
    assert str(mail["Date"]).endswith("+0800")
    escalation = next(m for m in mails if m["kind"] == "escalation")
    mail, text = _text(escalation["raw"])
    assert "黄经理 <huang@client.example.cn>" in text
    assert "张伟 于" in text  # the author by name
    assert all(a.display_name for h in ("To", "Cc") if mail[h] for a in mail[h].addresses)
