"""The IMAP server restarted while the gateway polls it: nothing imported twice or skipped.

A throw-away Dovecot (tests/support/dovecot.py) holds the demo project's mailbox; a real
``commgate serve`` polls it (``[imap]`` in the project file, password from the environment).
Mail keeps landing in the mailbox while Dovecot is restarted twice; afterwards every message in
the mailbox is stored once, processed once and flagged ``\\Seen`` on the server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.support import Gateway, assert_processed_exactly_once, gateway_in, wait_until
from tests.inbound.imap_support import PASSWORD_ENV, configure_imap, flags_of
from tests.support.dovecot import DovecotServer
from tests.support.mail import make_mail

COUNT = 60
# Any variable name works; the documented COMMGATE_IMAP_DEMO_PASSWORD is tested at the end.
FAULT_PASSWORD_ENV = "FAULT_TEST_IMAP_PASSWORD"


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[DovecotServer]:
    server = DovecotServer(tmp_path).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def gateway(tmp_path: Path, dovecot: DovecotServer) -> Iterator[Gateway]:
    with gateway_in(tmp_path, **{FAULT_PASSWORD_ENV: dovecot.password}) as gw:
        configure_imap(gw.config, dovecot, poll_interval=0.3, max_backoff=1.0, batch_size=10,
                       password_env=FAULT_PASSWORD_ENV)
        yield gw


def drop_mail(dovecot: DovecotServer, ids: list[str], stop: threading.Event) -> None:
    """Deliver directives into the Maildir one by one (also while Dovecot is down)."""
    for n in range(COUNT):
        if stop.is_set():
            return
        msg = make_mail(subject=f"【指令】IMAP 巡检 {n}", body=f"第 {n} 条，请回复确认。\n")
        dovecot.deliver("INBOX", msg.as_bytes())
        ids.append(msg["Message-ID"].strip("<>"))
        time.sleep(0.05)


@pytest.mark.slow
def test_an_imap_server_restart_neither_imports_twice_nor_skips(
        gateway: Gateway, dovecot: DovecotServer) -> None:
    # Given a gateway polling the mailbox while mail keeps arriving in it
    gateway.serve()
    ids: list[str] = []
    stop = threading.Event()
    writer = threading.Thread(target=drop_mail, args=(dovecot, ids, stop), daemon=True)
    writer.start()
    try:
        wait_until(lambda: len(ids) >= 15, timeout=60, what="15 messages in the mailbox")
        # When Dovecot is restarted mid-poll, twice
        dovecot.restart()
        wait_until(lambda: len(ids) >= 35, timeout=60, what="35 messages in the mailbox")
        dovecot.stop()
        time.sleep(1.5)
        dovecot.start()
        writer.join(timeout=60)
    finally:
        stop.set()
    assert len(ids) == COUNT
    # Then every message in the mailbox is stored and processed exactly once
    assert_processed_exactly_once(gateway.database_url, ids, log=gateway.log)
    # And flagged as stored on the server
    seen = flags_of(dovecot)
    assert [mid for mid in ids if b"\\Seen" not in seen.get(f"<{mid}>".encode(), set())] == []


@pytest.mark.slow
def test_serve_starts_with_the_documented_imap_password_variable(
        tmp_path: Path, dovecot: DovecotServer) -> None:
    with gateway_in(tmp_path, **{PASSWORD_ENV: dovecot.password}) as gw:
        configure_imap(gw.config, dovecot)
        gw.serve()
