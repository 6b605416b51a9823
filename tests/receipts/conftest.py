"""Fixtures for receipts: an App with every table and a movable clock, the demo people, a running
gateway, and helpers to send mail in the styles of real clients and to read the outbox back."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import gateway.jobs.periodic
import gateway.store.schema
from gateway.app import App
from gateway.config.settings import Settings
from gateway.receipts.query import list_receipts
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from gateway.store.notify_models import OutboxMail
from gateway.testing.clock import FakeClock
from gateway.testing.clock import local as at
from tests.support.apps import app_factory
from tests.support.mail import upstream_pass

SH = ZoneInfo("Asia/Shanghai")
PROJECT = "proj-demo@gw.example.com"
LINA, LIUYANG, CHENJING = ("lina@xdyj.example.com", "liuyang@xdyj.example.com",
                           "chenjing@xdyj.example.com")
ZHANGWEI, WANGQIANG = "zhangwei@xdyj.example.com", "wangqiang@xdyj.example.com"
NAMES = {LINA: "李娜", LIUYANG: "刘洋", CHENJING: "陈静", ZHANGWEI: "张伟", WANGQIANG: "王强"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at("2026-11-24 10:00"))  # a Tuesday, a working day


@pytest.fixture
def make_app(make_settings: Callable[..., Settings], database_url: str, clock: FakeClock,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., App]]:
    # The test decides when the scheduler runs: the one inside `serve` stays quiet.
    monkeypatch.setattr(gateway.jobs.periodic, "SERVE_TICK_INTERVAL", 1e9)
    with app_factory(make_settings, database_url, clock) as make:
        yield make


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


def person(address: str) -> str:
    return f"{NAMES.get(address, '')} <{address}>" if address in NAMES else address


def directive(*, subject: str, sender: str, to: list[str], cc: list[str] | None = None,
              body: str, date: datetime | None = None,
              headers: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = person(sender)
    msg["To"] = ", ".join(person(a) for a in to)
    msg["Cc"] = ", ".join(person(a) for a in (cc if cc is not None else [PROJECT]))
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or at("2026-11-24 10:00"))
    msg["Message-ID"] = make_msgid(domain="xdyj.example.com")
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg


def reply(original: EmailMessage, *, sender: str, body: str, subject_prefix: str = "Re: ",
          to: list[str] | None = None, headers: dict[str, str] | None = None,
          in_reply_to: str | None = None, authenticated: bool = True) -> EmailMessage:
    """``sender``'s answer to ``original``; ``authenticated``: it passed the trusted upstream
    (an ``Authentication-Results`` on top, unless ``headers`` brings its own)."""
    msg = EmailMessage()
    if authenticated and "Authentication-Results" not in (headers or {}):
        msg["Authentication-Results"] = upstream_pass(sender)
    msg["From"] = person(sender)
    msg["To"] = ", ".join(to or [str(original["From"])])
    msg["Cc"] = PROJECT
    msg["Subject"] = subject_prefix + str(original["Subject"])
    msg["Date"] = format_datetime(at("2026-11-24 11:00"))
    msg["Message-ID"] = make_msgid(domain="xdyj.example.com")
    parent = in_reply_to or str(original["Message-ID"])
    msg["In-Reply-To"] = parent
    msg["References"] = " ".join(dict.fromkeys([str(original["Message-ID"]), parent]))
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg


def send(port: int, msg: EmailMessage, *, rcpt: list[str] | None = None) -> None:
    envelope_from = str(msg["From"]).rpartition("<")[2].strip(">") or "x@xdyj.example.com"
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        refused = smtp.send_message(msg, from_addr=envelope_from, to_addrs=rcpt or [PROJECT])
    assert refused == {}


def processed(app: App, count: int) -> bool:
    with unit_of_work(app.sessions) as s:
        states = list(s.scalars(select(Message.state)))
    return len(states) >= count and all(state != "received" for state in states)


def outbox(app: App) -> list[dict[str, Any]]:
    with unit_of_work(app.sessions) as s:
        rows = s.scalars(select(OutboxMail).order_by(OutboxMail.id)).all()
        return [{"kind": m.kind, "key": m.idempotency_key, "subject": m.subject,
                 "to": sorted(r.address for r in m.recipients), "raw": m.raw} for m in rows]


def receipts(app: App) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(subject, recipient): row}`` as ``receipts list --json`` shows them."""
    with unit_of_work(app.sessions) as s:
        rows = list_receipts(s, project_id=app.project_ids["demo"], zone=SH, now=app.clock())
    return {(r["subject"], r["recipient"]): r for r in rows}


def message_flags(app: App, message_id: str) -> dict[str, Any]:
    with unit_of_work(app.sessions) as s:
        return dict(s.scalars(select(Message.flags).where(
            Message.message_id == message_id.strip("<>"))).one())


@pytest.fixture
def workdir(config_dir: Path) -> Path:
    return config_dir.parent
