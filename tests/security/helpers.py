"""Helpers for the attack suite: send bytes over SMTP, read back what was stored and queued."""

from __future__ import annotations

import smtplib
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from gateway.store.notify_models import OutboxMail
from tests.support.mail import wait_for

PROJECT = "proj-demo@gw.example.com"
LINA, LIUYANG, CHENJING = ("lina@xdyj.example.com", "liuyang@xdyj.example.com",
                           "chenjing@xdyj.example.com")
ZHANGWEI, WANGQIANG = "zhangwei@xdyj.example.com", "wangqiang@xdyj.example.com"
HUANG = "huang@client.example.cn"


def send(port: int, msg: EmailMessage | bytes, *, sender: str = LINA,
         rcpt: list[str] | None = None) -> None:
    """Deliver ``msg`` over SMTP on loopback; every recipient must be accepted."""
    raw = bytes(msg) if isinstance(msg, EmailMessage) else msg
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        refused = smtp.sendmail(sender, rcpt or [PROJECT], raw)
    assert refused == {}


def messages(app: App) -> list[Message]:
    with unit_of_work(app.sessions) as session:
        rows = list(session.scalars(select(Message).order_by(Message.id)))
        session.expunge_all()
        return rows


def settled(app: App, count: int) -> list[Message]:
    """Wait until ``count`` messages are stored and none is still waiting for the pipeline."""

    def probe() -> list[Message] | None:
        rows = messages(app)
        done = len(rows) >= count and all(m.state != "received" for m in rows)
        return rows if done else None

    return wait_for(probe, timeout=60)


def outbox(app: App) -> list[dict[str, Any]]:
    with unit_of_work(app.sessions) as session:
        rows = session.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        return [{"id": m.id, "kind": m.kind, "subject": m.subject, "raw": m.raw,
                 "automated": m.automated, "message_id": m.message_id,
                 "to": {r.address: r.state for r in m.recipients}} for m in rows]


def parse_bytes(raw: bytes) -> Any:
    return message_from_bytes(raw, policy=default)
