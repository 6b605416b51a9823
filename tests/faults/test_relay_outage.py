"""The outbound relay refuses (451), then is down, then returns: each mail delivered once.

A real ``commgate serve`` delivers its outbox to an aiosmtpd sink acting as the relay. Notices
(``commgate notice send``) and receipt reminders (``commgate tick --now`` a fortnight ahead,
delivered by a process whose clock starts there) are queued while the relay answers ``451`` and
then while nothing listens; when it accepts again every outbox row reaches ``sent`` and the sink
has received each Message-ID exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.app import system_clock
from gateway.store.notify_models import OutboxMail
from tests.faults.support import (
    Gateway,
    RelaySink,
    Stream,
    assert_outbox_delivered_once,
    assert_processed_exactly_once,
    gateway_in,
    outbox_rows,
    spawn_delivery_at,
    wait_until,
)

CHANGE = ("--set", "change_type=schedule", "--set", "summary=核心交换机割接延期",
          "--set", "reason=备件未到货", "--set", "impact=割接窗口顺延一周",
          "--set", "new_dates=2026-12-05 22:00", "--set", "contact=张伟 138-0000-0000")


@pytest.fixture
def relay() -> Iterator[RelaySink]:
    sink = RelaySink()
    sink.up("refuse")
    try:
        yield sink
    finally:
        sink.down()


@pytest.fixture
def gateway(tmp_path: Path, relay: RelaySink) -> Iterator[Gateway]:
    env = {"COMMGATE_OUTBOUND__RELAY_HOST": "127.0.0.1",
           "COMMGATE_OUTBOUND__RELAY_PORT": str(relay.port),
           "COMMGATE_OUTBOUND__TIMEOUT": "5",
           "COMMGATE_OUTBOUND__RETRY_BASE_SECONDS": "0.2",
           "COMMGATE_OUTBOUND__RETRY_MAX_SECONDS": "1",
           "COMMGATE_OUTBOUND__RATE_LIMIT_PER_RECIPIENT": "0",
           # the reminders' delivery process lives a fortnight ahead: to it the notices are
           # two weeks old, and giving up after 72 h is not what this test is about
           "COMMGATE_OUTBOUND__GIVE_UP_AFTER_HOURS": "100000"}
    with gateway_in(tmp_path, **env) as gw:
        yield gw


@pytest.mark.slow
def test_outbox_mail_is_delivered_exactly_once_when_the_relay_returns(
        gateway: Gateway, relay: RelaySink) -> None:
    # Given a gateway with 20 directives processed (each opens a receipt) and a relay saying 451
    gateway.serve()
    stream = Stream(gateway.port, 20).start()
    stream.join()
    assert_processed_exactly_once(gateway.database_url, stream.acked, log=gateway.log)
    # When notices are sent and reminders fall due while the relay refuses
    for n in range(3):
        gateway.run("notice", "send", "change", "--project", "demo",
                    "--from", "zhangwei@xdyj.example.com", "--to", "huang@client.example.cn",
                    *CHANGE[:3], f"summary=核心交换机割接延期 {n}", *CHANGE[4:])
    later = (system_clock() + timedelta(days=14)).isoformat()
    gateway.run("tick", "--now", later, "--project", "demo")
    spawn_delivery_at(gateway, later)
    # (three notices and the reminders, one digest per person: issue 21)
    wait_until(lambda: relay.refused >= 4, timeout=60, what="the relay refusing mail")
    # And then while the relay is down altogether
    relay.down()
    time.sleep(3)
    # Then when it accepts again every mail is delivered, each exactly once
    relay.up("accept")
    rows = wait_until(lambda: _all_sent(gateway), timeout=120, what="every outbox row sent")
    kinds = {row.kind for row in rows}
    assert {"change", "digest"} <= kinds and len(rows) >= 4, kinds
    # once the gateway has stopped, no delivery is in flight: a second one would be received
    gateway.close()
    assert_outbox_delivered_once(gateway.database_url, relay.received)


def _all_sent(gateway: Gateway) -> list[OutboxMail] | None:
    rows = outbox_rows(gateway.database_url)
    return rows if rows and all(row.state == "sent" for row in rows) else None
