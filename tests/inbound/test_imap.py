"""IMAP intake against a real Dovecot on loopback: stored first, then marked; never twice."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.app import App
from gateway.errors import ConfigError
from gateway.inbound import imap_sync
from gateway.runtime.server import Server
from tests.inbound.certs import self_signed
from tests.inbound.imap_support import PASSWORD_ENV, TlsDovecot, configure_imap, flags_of
from tests.inbound.wire import arrivals, stored_messages
from tests.support.dovecot import DovecotServer
from tests.support.mail import wait_for


def mail(n: int) -> bytes:
    return (f"From: huang@client.example.cn\r\nTo: proj-demo@gw.example.com\r\n"
            f"Subject: 客户来信 {n}\r\nMessage-ID: <imap-{n}@client.example.cn>\r\n\r\n"
            f"第{n}封\r\n").encode()


@pytest.fixture
def dovecot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DovecotServer]:
    monkeypatch.setenv(PASSWORD_ENV, "secret")
    server = DovecotServer(tmp_path).start()
    yield server
    server.close()


@pytest.fixture
def imap_gateway(config_dir: Path, dovecot: DovecotServer, make_app: Callable[..., App],
                 start_server: Callable[..., Server]) -> Callable[..., Server]:
    """``imap_gateway(**imap options)``: a running front end polling the Dovecot mailbox."""

    def start(**options: object) -> Server:
        configure_imap(config_dir, dovecot, **options)
        return start_server(make_app(), run_workers=False)

    return start


def message_ids(app: App) -> list[str]:
    return sorted(m.message_id for m in stored_messages(app))


def test_mail_in_the_mailbox_is_stored_then_flagged_seen(
        dovecot: DovecotServer, imap_gateway: Callable[..., Server]) -> None:
    for n in (1, 2, 3):
        dovecot.deliver("INBOX", mail(n))
    server = imap_gateway()
    wait_for(lambda: len(stored_messages(server.app)) == 3)
    assert {a.channel for a in arrivals(server.app)} == {"imap"}
    wait_for(lambda: all(b"\\Seen" in f for f in flags_of(dovecot).values()))


def test_restarts_neither_import_twice_nor_skip(dovecot: DovecotServer,
                                                imap_gateway: Callable[..., Server]) -> None:
    dovecot.deliver("INBOX", mail(1))
    dovecot.deliver("INBOX", mail(2))
    first = imap_gateway()
    wait_for(lambda: len(stored_messages(first.app)) == 2)
    first.stop()
    # While the gateway is down two more arrive
    dovecot.deliver("INBOX", mail(3))
    dovecot.deliver("INBOX", mail(4))
    second = imap_gateway()
    wait_for(lambda: len(stored_messages(second.app)) == 4)
    wait_for(lambda: second.pollers[0].passes >= 2)
    assert len(arrivals(second.app)) == 4  # nothing fetched again


def test_a_crash_between_storing_and_flagging_stores_once(
        dovecot: DovecotServer, imap_gateway: Callable[..., Server],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the connection dies right after the message is stored, before it is flagged
    real_mark = imap_sync.mark_stored
    failures = []

    def mark_once_failing(client: object, cfg: object, uids: list[int]) -> None:
        if not failures:
            failures.append(uids)
            raise ConnectionResetError("connection lost before STORE")
        real_mark(client, cfg, uids)  # type: ignore[arg-type]

    monkeypatch.setattr(imap_sync, "mark_stored", mark_once_failing)
    dovecot.deliver("INBOX", mail(1))
    server = imap_gateway()
    # Then after reconnecting it is flagged, and still stored only once
    wait_for(lambda: b"\\Seen" in flags_of(dovecot).get(b"<imap-1@client.example.cn>", set()))
    assert failures and message_ids(server.app) == ["imap-1@client.example.cn"]
    assert server.pollers[0].connects >= 2


def test_a_new_uidvalidity_reimports_as_arrivals_only(
        dovecot: DovecotServer, imap_gateway: Callable[..., Server]) -> None:
    dovecot.deliver("INBOX", mail(1))
    dovecot.deliver("INBOX", mail(2))
    server = imap_gateway()
    wait_for(lambda: len(stored_messages(server.app)) == 2)
    server.stop()
    # When the server renumbers the folder (its UID list is lost: RFC 3501 §2.3.1.1)
    dovecot.stop()
    for state in dovecot.maildir.glob("dovecot*"):
        state.unlink() if state.is_file() else shutil.rmtree(state)
    dovecot.start()
    dovecot.deliver("INBOX", mail(3))
    again = imap_gateway()
    # Then the old two come back as further arrivals and only the new one is a new message
    wait_for(lambda: len(arrivals(again.app)) == 5)
    assert message_ids(again.app) == [f"imap-{n}@client.example.cn" for n in (1, 2, 3)]


def test_a_keyword_marks_what_was_stored(dovecot: DovecotServer,
                                         imap_gateway: Callable[..., Server]) -> None:
    dovecot.deliver("INBOX", mail(1))
    imap_gateway(flag="$CommgateStored")
    wait_for(lambda: b"$CommgateStored" in flags_of(dovecot)[b"<imap-1@client.example.cn>"])
    assert b"\\Seen" not in flags_of(dovecot)[b"<imap-1@client.example.cn>"]


def test_stored_mail_can_be_moved_to_another_folder(dovecot: DovecotServer,
                                                    imap_gateway: Callable[..., Server]) -> None:
    dovecot.deliver("INBOX", mail(1))
    server = imap_gateway(after_store="move", move_to="Stored")
    wait_for(lambda: list(flags_of(dovecot, "Stored")) == [b"<imap-1@client.example.cn>"])
    assert flags_of(dovecot) == {}
    assert len(stored_messages(server.app)) == 1


def test_idle_brings_new_mail_without_waiting_for_the_poll(
        dovecot: DovecotServer, imap_gateway: Callable[..., Server]) -> None:
    server = imap_gateway(poll_interval=300)
    wait_for(lambda: server.pollers[0].passes >= 1)
    dovecot.deliver("INBOX", mail(1))
    wait_for(lambda: len(stored_messages(server.app)) == 1, timeout=30)


def test_an_imap_server_restart_is_survived(dovecot: DovecotServer,
                                            imap_gateway: Callable[..., Server]) -> None:
    dovecot.deliver("INBOX", mail(1))
    server = imap_gateway()
    wait_for(lambda: len(stored_messages(server.app)) == 1)
    dovecot.restart()
    dovecot.deliver("INBOX", mail(2))
    # (Dovecot may keep the old session's process alive; either way the new mail arrives.)
    wait_for(lambda: len(stored_messages(server.app)) == 2)


def test_the_poller_stops_with_the_server(dovecot: DovecotServer,
                                          imap_gateway: Callable[..., Server]) -> None:
    server = imap_gateway(poll_interval=300)
    wait_for(lambda: server.pollers[0].passes >= 1)
    poller = server.pollers[0]
    server.stop(drain_timeout=10)
    assert poller._thread is not None and not poller._thread.is_alive()


def test_a_missing_password_variable_fails_the_start(
        dovecot: DovecotServer, config_dir: Path, make_app: Callable[..., App],
        start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV)
    configure_imap(config_dir, dovecot)
    with pytest.raises(ConfigError, match=PASSWORD_ENV):
        start_server(make_app(), run_workers=False)


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_mail_is_fetched_over_tls(security: str, tmp_path: Path, config_dir: Path,
                                  make_app: Callable[..., App],
                                  start_server: Callable[..., Server],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "secret")
    cert, key = self_signed(tmp_path / "tls")
    dovecot = TlsDovecot(tmp_path, cert=cert, key=key).start()
    try:
        dovecot.deliver("INBOX", mail(1))
        port = dovecot.tls_port if security == "tls" else dovecot.port
        configure_imap(config_dir, dovecot, security=security, port=port, ca_file=str(cert))
        server = start_server(make_app(), run_workers=False)
        wait_for(lambda: len(stored_messages(server.app)) == 1)
    finally:
        dovecot.close()
