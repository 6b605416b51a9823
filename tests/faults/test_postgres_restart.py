"""PostgreSQL restarted under a stream of mail: 451 during the outage, nothing lost or doubled.

A private throw-away cluster (never the machine's shared server) backs a real ``commgate serve``
(embedded workers). While a client streams directives, PostgreSQL is stopped for a few seconds and
started again: the listener must answer ``451`` while it cannot commit (the client retries), and
afterwards every message that got ``250`` is stored once and processed once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.support import (
    Gateway,
    PrivatePostgres,
    Stream,
    assert_outbox_delivered_once,
    assert_processed_exactly_once,
    gateway_in,
    maildir_message_ids,
    wait_until,
)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    try:
        yield pg.init()
    finally:
        pg.close()


@pytest.fixture
def gateway(tmp_path: Path, postgres: PrivatePostgres) -> Iterator[Gateway]:
    with gateway_in(tmp_path, COMMGATE_DATABASE_URL=postgres.url) as gw:
        yield gw


@pytest.mark.slow
def test_a_postgres_restart_mid_stream_loses_and_doubles_nothing(
        gateway: Gateway, postgres: PrivatePostgres) -> None:
    # Given a gateway on the private cluster and a client streaming 120 directives
    gateway.serve()
    stream = Stream(gateway.port, 120, pause=0.02).start()
    wait_until(lambda: len(stream.acked) >= 30, timeout=90, what="30 messages acknowledged")
    # When PostgreSQL goes away for a few seconds and comes back
    postgres.stop()
    acked_at_stop = len(stream.acked)
    wait_until(lambda: stream.tempfails or not stream.thread.is_alive(), timeout=60,
               what="a refusal while PostgreSQL is down")
    time.sleep(2)
    postgres.start()
    stream.join()
    # Then the client was told to retry (451) during the outage, never refused for good
    assert stream.tempfails["451"] > 0, (stream.tempfails, gateway.log())
    assert len(stream.acked) == 120 and acked_at_stop < 120
    # And every acknowledged message is stored and processed exactly once
    assert_processed_exactly_once(gateway.database_url, stream.acked, log=gateway.log)
    # And whatever the pipeline queued for delivery reached the Maildir exactly once
    maildir = gateway.data / "outbox"
    gateway.stop("serve")
    assert_outbox_delivered_once(gateway.database_url, maildir_message_ids(maildir))
