"""Helpers shared by the audit, archive and connector tests: a project built through the real
pipeline (``intake.accept`` + ``pipeline.process``) on a clock the test moves."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage

from gateway.app import App, build_app
from gateway.config.settings import Settings
from gateway.inbound.intake import accept
from gateway.pipeline import process
from gateway.testing.clock import FakeClock
from tests.support.mail import make_mail

CLIENT = "huang@client.example.cn"
PROJECT = "proj-demo@gw.example.com"


def build(make_settings: Callable[..., Settings], database_url: str, clock: FakeClock,
          **env: str) -> App:
    return build_app(make_settings(database_url=database_url, **env), clock=clock)


def deliver(app: App, message: EmailMessage | bytes, project: str = "demo") -> int:
    """One mail in, as the SMTP listener would store it, then through every stage."""
    raw = message if isinstance(message, bytes) else bytes(message)
    accepted = accept(app, project=project, raw=raw, channel="smtp", peer="127.0.0.1",
                      envelope_to=[PROJECT], will_enqueue=False)
    assert process(app, accepted.message_pk) in ("processed", "skipped")
    return accepted.message_pk


def change_notice(subject: str = "【变更通知】核心交换机割接时间调整", *,
                  attachments: dict[str, bytes] | None = None,
                  message_id: str | None = None, date: datetime | None = None) -> EmailMessage:
    """A change notice from the PM to the client, CC the project (a DingTalk-worthy record)."""
    msg = make_mail(subject=subject, sender="zhangwei@xdyj.example.com", to=CLIENT,
                    cc=PROJECT, message_id=message_id, date=date,
                    body="黄经理：因设备到货延迟，割接由11月28日调整至12月5日。\n"
                         "原因：供应商到货延迟。影响：割接窗口顺延一周，服务不中断。\n请回复确认。\n")
    for name, content in (attachments or {}).items():
        msg.add_attachment(content, maintype="application", subtype="octet-stream",
                           filename=name)
    return msg


def gbk_attachment_mail(name: str, content: bytes) -> bytes:
    """Foxmail/Outlook style: the file name as an RFC 2047 GBK word inside the parameter."""
    word = "=?GBK?B?" + base64.b64encode(name.encode("gbk")).decode() + "?="
    body = base64.encodebytes(content).decode()
    return (f"From: lina@xdyj.example.com\r\nTo: {CLIENT}\r\nCc: {PROJECT}\r\n"
            f"Subject: =?GBK?B?{base64.b64encode('巡检报告'.encode('gbk')).decode()}?=\r\n"
            "Date: Tue, 24 Nov 2026 10:00:00 +0800\r\n"
            "Message-ID: <gbk-1@xdyj.example.com>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
            "Content-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            f"{base64.encodebytes('附件为本月巡检报告。'.encode('gbk')).decode()}\r\n--b1\r\n"
            f"Content-Type: application/pdf; name=\"{word}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{word}\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n--b1--\r\n").encode("ascii")
