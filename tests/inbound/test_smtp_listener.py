"""The SMTP listener over loopback: durable before 250, the bytes kept as sent, and its limits."""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import update

from gateway.app import App
from gateway.store.db import make_engine, make_sessionmaker, unit_of_work
from gateway.store.models import Project
from tests.inbound.certs import self_signed
from tests.inbound.wire import DEMO, OPS, Wire, stored_messages, stored_raw, without_trace

# 8-bit header and body bytes as some clients really send them: UTF-8 in Subject, GBK in the body.
EIGHT_BIT = ("From: 李娜 <lina@xdyj.example.com>\r\nTo: proj-demo@gw.example.com\r\n"
             "Subject: 【指令】巡检\r\nMessage-ID: <8bit-1@xdyj.example.com>\r\n\r\n"
             ).encode() + "请今晚完成巡检。\r\n".encode("gbk")


def plain(n: int = 1, body: bytes = b"hello\r\n") -> bytes:
    return (f"From: lina@xdyj.example.com\r\nSubject: test {n}\r\n"
            f"Message-ID: <m{n}@xdyj.example.com>\r\n\r\n").encode() + body


def test_a_message_is_stored_byte_for_byte_before_250(app: App,
                                                      listen: Callable[..., int]) -> None:
    port = listen(app)
    with Wire(port) as wire:
        wire.envelope(helo="EHLO mua.xdyj.example.com")
        assert wire.command("RSET")[0] == 250
        assert wire.command("MAIL FROM:<lina@xdyj.example.com> BODY=8BITMIME")[0] == 250
        assert wire.command(f"RCPT TO:<{DEMO}>")[0] == 250
        code, text = wire.data(EIGHT_BIT + b".\r\n")
        # Then the reply comes only once the message is durable: it is there already
        assert code == 250, text
        assert len(stored_messages(app)) == 1
    raw = stored_raw(app)[0]
    # The bytes are exactly what was sent (never re-serialised, CVE-2024-6923) ...
    assert without_trace(raw) == EIGHT_BIT
    # ... behind one RFC 5321 trace field naming the peer, the protocol and the recipient
    trace = raw[: len(raw) - len(EIGHT_BIT)].decode()
    assert trace.startswith("Received: from mua.xdyj.example.com ([127.0.0.1])")
    assert "with ESMTP" in trace and f"for <{DEMO}>" in trace


def test_dot_stuffing_is_undone_and_a_pipelined_next_command_is_kept(
        app: App, listen: Callable[..., int]) -> None:
    port = listen(app)
    with Wire(port) as wire:
        wire.envelope()
        # A line starting with "." is sent as ".." (RFC 5321 §4.5.2); QUIT follows at once.
        code, _ = wire.data(plain(body=b"..leading dot\r\n..\r\n") + b".\r\nQUIT\r\n")
        assert code == 250
        assert wire.reply()[0] == 221
    assert without_trace(stored_raw(app)[0]).endswith(b"\r\n\r\n.leading dot\r\n.\r\n")


def test_size_is_announced_and_enforced(make_app: Callable[..., App],
                                        listen: Callable[..., int]) -> None:
    app = make_app(COMMGATE_SMTP__MAX_MESSAGE_SIZE="10000")
    port = listen(app)
    with Wire(port) as wire:
        assert b"SIZE 10000" in wire.command("EHLO client.example")[1]
        # A declared size over the limit is refused at MAIL (RFC 1870) ...
        assert wire.command("MAIL FROM:<a@xdyj.example.com> SIZE=20000")[0] == 552
        assert wire.command("MAIL FROM:<a@xdyj.example.com> SIZE=2000")[0] == 250
        assert wire.command(f"RCPT TO:<{DEMO}>")[0] == 250
        # ... and a message that turns out larger is refused after its data
        code, text = wire.data(plain(body=b"x" * 900 + b"\r\n") * 12 + b".\r\n")
        assert (code, text[:5]) == (552, b"5.3.4")
        assert wire.command("NOOP")[0] == 250  # the session goes on
    assert stored_messages(app) == []


def test_too_many_recipients_get_452(make_app: Callable[..., App],
                                     listen: Callable[..., int]) -> None:
    port = listen(make_app(COMMGATE_SMTP__MAX_RECIPIENTS="2"))
    with Wire(port) as wire:
        wire.envelope(DEMO, "proj-ops@gw.example.com")
        assert wire.command("RCPT TO:<PROJ-DEMO@gw.example.com>")[0] == 452


def test_lines_up_to_998_octets_pass_and_longer_ones_are_refused(
        app: App, listen: Callable[..., int]) -> None:
    port = listen(app)
    with Wire(port) as wire:
        wire.envelope()
        assert wire.data(plain(1, b"a" * 998 + b"\r\n") + b".\r\n")[0] == 250
        # Decision (docs/inbound.md): refuse with 500 rather than fold or quarantine, so the
        # sender learns at once; the MTA in front (Postfix) already folds long lines.
        wire.envelope(helo="RSET")
        code, text = wire.data(plain(2, b"b" * 999 + b"\r\n") + b".\r\n")
        assert code == 500 and b"Line too long" in text
    assert [m.message_id for m in stored_messages(app)] == ["m1@xdyj.example.com"]


def test_connections_per_client_ip_are_limited(make_app: Callable[..., App],
                                               listen: Callable[..., int]) -> None:
    port = listen(make_app(COMMGATE_SMTP__MAX_CONNECTIONS_PER_IP="2"))
    first, second = Wire(port), Wire(port)
    assert first.greeting[0] == second.greeting[0] == 220
    with Wire(port) as third:
        assert third.greeting[0] == 421  # RFC 5321 §3.8: 421 and close
    first.close()
    # A slot frees once a connection ends
    deadline = time.monotonic() + 5
    while True:
        with Wire(port) as again:
            if again.greeting[0] == 220 or time.monotonic() > deadline:
                assert again.greeting[0] == 220
                break
        time.sleep(0.05)
    second.close()


def test_an_idle_client_is_disconnected(make_app: Callable[..., App],
                                        listen: Callable[..., int]) -> None:
    port = listen(make_app(COMMGATE_SMTP__IDLE_TIMEOUT="0.5"))
    with Wire(port) as wire:
        wire.command("EHLO client.example")
        with pytest.raises(ConnectionError):
            wire.reply()  # nothing sent: the server hangs up (well before the test's timeout)


def tls_app(make_app: Callable[..., App], tmp_path: Path, **env: str) -> App:
    cert, key = self_signed(tmp_path / "tls")
    return make_app(COMMGATE_SMTP__TLS_CERT=str(cert), COMMGATE_SMTP__TLS_KEY=str(key), **env)


def test_starttls_is_offered_with_a_certificate_and_recorded_in_the_trace(
        make_app: Callable[..., App], listen: Callable[..., int], tmp_path: Path) -> None:
    app = tls_app(make_app, tmp_path)
    port = listen(app)
    context = ssl.create_default_context(cafile=str(tmp_path / "tls" / "cert.pem"))
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo("client.example")
        assert smtp.has_extn("starttls")
        smtp.starttls(context=context)
        smtp.ehlo("client.example")
        smtp.sendmail("lina@xdyj.example.com", [DEMO], plain())
    trace = stored_raw(app)[0].split(b"\r\n\r\n")[0].decode()
    assert "with ESMTPS (using TLSv1." in trace  # RFC 3848


def test_require_starttls_refuses_mail_in_the_clear(make_app: Callable[..., App],
                                                    listen: Callable[..., int],
                                                    tmp_path: Path) -> None:
    port = listen(tls_app(make_app, tmp_path, COMMGATE_SMTP__REQUIRE_STARTTLS="true"))
    with Wire(port) as wire:
        wire.command("EHLO client.example")
        assert wire.command("MAIL FROM:<lina@xdyj.example.com>")[0] == 530


def test_more_than_50_received_headers_is_a_loop(app: App, listen: Callable[..., int]) -> None:
    port = listen(app)
    hop = b"Received: from a by b; Tue, 24 Nov 2026 10:00:00 +0000\r\n"
    with Wire(port) as wire:
        wire.envelope()
        assert wire.data(hop * 50 + plain(1) + b".\r\n")[0] == 250
        wire.envelope(helo="RSET")
        code, text = wire.data(hop * 51 + plain(2) + b".\r\n")
        assert (code, text[:5]) == (554, b"5.4.6")  # RFC 5321 §6.3
    assert len(stored_messages(app)) == 1


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_an_unwritable_raw_store_answers_451_and_stores_nothing(
        make_app: Callable[..., App], listen: Callable[..., int], writer: str) -> None:
    app = make_app(COMMGATE_SMTP__WRITER=writer, COMMGATE_RAW_INLINE_MAX="0")  # raw files
    port = listen(app)
    # Given a raw store that cannot be written (a file where its folder should be: as root,
    # permissions would not stop us — this fails the same way a full disk does), in whichever
    # process writes it
    root = app.raw.root
    root.mkdir(parents=True, exist_ok=True)
    aside = root.with_name("raw-aside")
    root.rename(aside)
    root.write_text("not a folder")
    with Wire(port) as wire:
        wire.envelope()
        code, text = wire.data(plain() + b".\r\n")
        assert (code, text[:5]) == (451, b"4.3.0")
        assert stored_messages(app) == []
        # When the disk is back, the client's retry is stored once
        root.unlink()
        aside.rename(root)
        wire.envelope(helo="RSET")
        assert wire.data(plain() + b".\r\n")[0] == 250
    assert len(stored_messages(app)) == 1
    [message] = stored_messages(app)
    assert app.raw.verify(message.sha256)


def test_a_database_outage_answers_451_and_stores_nothing(make_app: Callable[..., App],
                                                          listen: Callable[..., int],
                                                          tmp_path: Path) -> None:
    # The database is swapped under the listener's own process (tests/faults has a real
    # PostgreSQL restart for the writer process)
    app = make_app(COMMGATE_SMTP__WRITER="thread")
    port = listen(app)
    working = app.engine, app.sessions
    app.engine = make_engine(f"sqlite:///{tmp_path}")  # a folder: no database
    app.sessions = make_sessionmaker(app.engine)
    with Wire(port) as wire:
        wire.envelope()
        assert wire.data(plain() + b".\r\n")[0] == 451
    app.engine, app.sessions = working
    assert stored_messages(app) == []


def test_a_client_vanishing_mid_data_stores_nothing_and_others_are_served(
        app: App, listen: Callable[..., int]) -> None:
    port = listen(app)
    with Wire(port) as quitter:
        quitter.envelope()
        assert quitter.command("DATA")[0] == 354
        quitter.send(plain(body=b"half a mess"))  # truncated: no end of data, then gone
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.sendmail("lina@xdyj.example.com", [DEMO], plain(2))
    assert [m.message_id for m in stored_messages(app)] == ["m2@xdyj.example.com"]


def test_a_closed_project_is_refused_at_rcpt_with_its_reason(
        app: App, listen: Callable[..., int], caplog: pytest.LogCaptureFixture) -> None:
    # Given project ops has been closed (handed over)
    with unit_of_work(app.sessions) as session:
        session.execute(update(Project).where(Project.code == "ops").values(intake_open=False))
    port = listen(app)
    with caplog.at_level(logging.INFO, logger="gateway.inbound"), Wire(port) as wire:
        assert wire.command("EHLO client.example")[0] == 250
        assert wire.command("MAIL FROM:<lina@xdyj.example.com>")[0] == 250
        # When a client names its address, Then RCPT already refuses it, saying why
        code, text = wire.command(f"RCPT TO:<{OPS}>")
        assert code == 550 and text == b"5.2.1 Project ops is closed and accepts no more mail"
        # and an open project in the same transaction is still taken
        assert wire.command(f"RCPT TO:<{DEMO}>")[0] == 250
        assert wire.data(plain() + b".\r\n")[0] == 250
    assert len(stored_messages(app)) == 1
    # The refusal is logged as what it is, not as an error of ours
    refusals = [r for r in caplog.records if "closed" in r.getMessage()]
    assert refusals and all(r.levelno == logging.INFO for r in refusals)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
