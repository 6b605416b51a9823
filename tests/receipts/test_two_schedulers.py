"""Production shape: PostgreSQL, a Redis broker, two gateways with workers, two schedulers
ticking at the same instant — and still exactly one mail per recipient/message and level."""

from __future__ import annotations

import email
import email.policy
import mailbox
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.config.settings import Settings
from gateway.jobs.scheduler import tick
from gateway.store.db import unit_of_work
from gateway.store.notify_models import OutboxMail
from gateway.testing.clock import FakeClock
from tests.receipts.conftest import (
    CHENJING,
    LINA,
    LIUYANG,
    WANGQIANG,
    ZHANGWEI,
    at,
    directive,
    outbox,
    processed,
    send,
)
from tests.support.mail import wait_for
from tests.support.services import REDIS_URL, require, scratch_postgres

pytestmark = pytest.mark.postgres

DIRECTIVES = 6  # the author is in copy of 4 mails each: under the outbox's 30/hour limit


@pytest.fixture
def database_url() -> Iterator[str]:  # this test is PostgreSQL only
    with scratch_postgres() as url:
        yield url


def _together(apps: list[App], when: str) -> None:
    """Both schedulers start their pass at the same moment."""
    start = threading.Barrier(len(apps))
    errors: list[BaseException] = []

    def run(app: App) -> None:
        try:
            start.wait()
            tick(app, now=at(when))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []


def _text(raw: bytes) -> str:
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    body = mail.get_body(("plain",))
    return str(mail["Subject"]) + "\n" + (body.get_content() if body is not None else "")


def _addressed_to(raw: bytes, person: str) -> bool:
    """``person`` is in To (not only in Cc: the author is copied on every reminder)."""
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    return person in {a.addr_spec for a in mail["To"].addresses}


def test_two_schedulers_and_two_workers_send_no_duplicate(
        make_app: Callable[..., App], clock: FakeClock, tmp_path: Path,
        start_server: Callable[..., object], make_settings: Callable[..., Settings]) -> None:
    require("127.0.0.1", 6379, "Redis")
    require("127.0.0.1", 5432, "PostgreSQL")
    # Given two gateways (SMTP + workers on Redis) and two scheduler processes' apps
    first, second = make_app(COMMGATE_BROKER_URL=REDIS_URL), make_app(
        COMMGATE_BROKER_URL=REDIS_URL)
    server = start_server(first)
    start_server(second)
    port: int = server.smtp_port  # type: ignore[attr-defined]
    for i in range(DIRECTIVES):
        send(port, directive(subject=f"【指令】第{i}批设备巡检", sender=LINA,
                             to=[LIUYANG, CHENJING], body="请明天完成巡检，回复确认。\n"))
    wait_for(lambda: processed(first, DIRECTIVES), timeout=60)

    # When both tick together at the deadline, the PM level and the dept level — twice each
    for when in ("2026-11-25 10:00", "2026-11-25 14:00", "2026-11-26 10:00"):
        _together([first, second], when)
        _together([first, second], when)

    # Then every person is told about every directive exactly once per level — one reminder
    # per recipient, one mail per level and message — though a pass gathers one person's items
    # into a digest (issue 21), at most one digest per scheduler pass
    mails = outbox(first)
    assert set(Counter(m["kind"] for m in mails)) <= {"reminder", "escalation", "digest"}
    assert len({m["key"] for m in mails}) == len(mails)
    for person in (LIUYANG, CHENJING, ZHANGWEI, WANGQIANG):
        texts = [_text(m["raw"]) for m in mails if person in m["to"]
                 and _addressed_to(m["raw"], person)]
        assert len(texts) <= 2 * 2  # two schedulers, the same instant twice
        for i in range(DIRECTIVES):
            assert sum(t.count(f"第{i}批设备巡检") > 0 for t in texts) == 1, (person, i)

    # And the two gateways' delivery loops wrote each one once to the Maildir
    def all_sent() -> bool:
        with unit_of_work(first.sessions) as s:
            states = list(s.scalars(select(OutboxMail.state)))
        return all(state == "sent" for state in states)

    clock.set("2026-11-26 10:05")  # the delivery loops use the gateway's clock
    wait_for(all_sent, timeout=60)
    box = mailbox.Maildir(first.settings.outbox_dir, create=False)
    ids = [str(message["Message-ID"]) for message in box]
    assert len(ids) == len(mails) and len(set(ids)) == len(ids)
