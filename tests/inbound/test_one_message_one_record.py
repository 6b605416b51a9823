"""One mail, one stored message — however many times and ways it reaches the gateway.

The same mail arrives twice when it is CC'd to the project address and also found in the
project mailbox over IMAP, when a client retries after losing the ``250``, or when the same
mbox is imported twice. Each time intake recognises it by Message-ID + body hash (a synthetic
Message-ID when it has none) and notes a further arrival instead of a second message.
"""

from __future__ import annotations

import mailbox
import smtplib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.app import App
from gateway.cli.ingest import ingest
from gateway.runtime.server import Server
from tests.inbound.imap_support import PASSWORD_ENV, configure_imap
from tests.inbound.wire import DEMO, Wire, arrivals, stored_messages
from tests.support.dovecot import DovecotServer
from tests.support.mail import make_mail, wait_for

NO_MESSAGE_ID = (b"From: huang@client.example.cn\r\nTo: lina@xdyj.example.com\r\n"
                 b"Cc: proj-demo@gw.example.com\r\nSubject: no id\r\n"
                 b"Date: Tue, 24 Nov 2026 10:00:00 +0800\r\n\r\nA client whose mailer sets no "
                 b"Message-ID.\r\n")


@pytest.fixture
def app(make_app: Callable[..., App], database_url: str) -> App:
    """On SQLite and on PostgreSQL: dedup rests on the database's unique key."""
    return make_app(database_url=database_url)


@pytest.fixture
def dovecot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DovecotServer]:
    monkeypatch.setenv(PASSWORD_ENV, "secret")
    server = DovecotServer(tmp_path).start()
    yield server
    server.close()


@pytest.mark.parametrize("raw", [make_mail(subject="CC'd and in the mailbox").as_bytes(),
                                 NO_MESSAGE_ID], ids=["message-id", "no-message-id"])
def test_cc_to_the_project_and_the_same_mail_over_imap_is_one_message(
        raw: bytes, dovecot: DovecotServer, config_dir: Path, make_app: Callable[..., App],
        database_url: str, start_server: Callable[..., Server]) -> None:
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    # Given the gateway polls the project mailbox, where the mail also lands
    configure_imap(config_dir, dovecot)
    server = start_server(make_app(database_url=database_url), run_workers=False)
    # When the mail arrives over SMTP (CC) and in the mailbox
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
        smtp.sendmail("huang@client.example.cn", [DEMO], raw)
    dovecot.deliver("INBOX", raw)
    # Then there is one message with two arrivals
    wait_for(lambda: len(arrivals(server.app)) == 2)
    [message] = stored_messages(server.app)
    assert sorted(a.channel for a in arrivals(server.app)) == ["imap", "smtp"]
    assert message.message_id_synthetic == (b"Message-ID:" not in raw)


def test_a_client_retrying_after_a_lost_250_makes_one_message(
        app: App, listen: Callable[..., int]) -> None:
    port = listen(app)
    raw = make_mail(subject="retried").as_bytes().replace(b"\n", b"\r\n")
    # Given a client whose connection drops after we stored the mail, before it read our 250
    with Wire(port) as wire:
        wire.envelope()
        assert wire.command("DATA")[0] == 354
        wire.send(raw + b".\r\n")
        wait_for(lambda: stored_messages(app))
    # When it retries, as RFC 5321 §4.5.4.1 tells it to
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("lina@xdyj.example.com", [DEMO], raw)
    # Then the retry is a further arrival of the one stored message
    assert len(stored_messages(app)) == 1
    assert [a.channel for a in arrivals(app)] == ["smtp", "smtp"]


def test_the_same_mbox_imported_twice_is_stored_once(app: App, tmp_path: Path) -> None:
    box = mailbox.mbox(tmp_path / "old.mbox")
    for n in range(3):
        box.add(make_mail(subject=f"history {n}"))
    box.add(mailbox.mboxMessage(NO_MESSAGE_ID))
    box.close()
    first = ingest(app, "demo", [tmp_path / "old.mbox"], sync=False, history=True,
                   enqueue=False)
    again = ingest(app, "demo", [tmp_path / "old.mbox"], sync=False, history=True,
                   enqueue=False)
    assert (first.stored, first.duplicates) == (4, 0)
    assert (again.stored, again.duplicates) == (0, 4)
    assert len(stored_messages(app)) == 4
    assert {a.channel for a in arrivals(app)} == {"import"}
