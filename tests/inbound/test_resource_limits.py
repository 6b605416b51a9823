"""Resource limits of the listener (issue 16, intake): an overall connection cap, quiet logs on
descriptor exhaustion, an overall DATA deadline, one STARTTLS only, no AUTH without an
authenticator."""

from __future__ import annotations

import errno
import logging
import select
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.app import App
from gateway.inbound.limits import AcceptErrorLog
from gateway.runtime.server import Server
from tests.inbound.test_smtp_listener import tls_app
from tests.inbound.wire import DEMO, Wire, stored_messages


def connect_from(source: str, port: int) -> tuple[socket.socket, int]:
    """A connection from loopback address ``source``; (socket, greeting code)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20,
                                    source_address=(source, 0))
    return sock, int(sock.makefile("rb").readline()[:3])


def test_connections_over_the_global_cap_get_421(make_app: Callable[..., App],
                                                 listen: Callable[..., int]) -> None:
    port = listen(make_app(COMMGATE_SMTP__MAX_CONNECTIONS="2",
                           COMMGATE_SMTP__MAX_CONNECTIONS_PER_IP="20"))
    # Given two clients from two addresses, each well under the per-address limit
    first, code1 = connect_from("127.0.0.2", port)
    second, code2 = connect_from("127.0.0.3", port)
    assert (code1, code2) == (220, 220)
    # When a third address connects, Then it is refused: the listener is full
    third, code3 = connect_from("127.0.0.4", port)
    third.close()
    assert code3 == 421
    # And once a client leaves, a new one is served (the refused one was never counted)
    first.close()
    deadline = time.monotonic() + 10
    while True:
        again, code = connect_from("127.0.0.5", port)
        again.close()
        if code == 220 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert code == 220
    second.close()


def test_a_refused_connection_does_not_free_a_slot_of_its_address(
        make_app: Callable[..., App], listen: Callable[..., int]) -> None:
    port = listen(make_app(COMMGATE_SMTP__MAX_CONNECTIONS_PER_IP="1"))
    with Wire(port) as first:
        assert first.greeting[0] == 220
        with Wire(port) as refused:
            assert refused.greeting[0] == 421
        time.sleep(0.2)  # the refused connection has ended on the server
        with Wire(port) as still_full:
            assert still_full.greeting[0] == 421


def test_descriptor_exhaustion_is_logged_once_per_interval(
        app: App, start_server: Callable[..., Server],
        caplog: pytest.LogCaptureFixture) -> None:
    server = start_server(app, run_workers=False)
    # Given the listener's event loop (asyncio reports a failed accept(2) to its handler)
    handler = server.loop.get_exception_handler()
    assert isinstance(handler, AcceptErrorLog)
    context = {"message": "socket.accept() out of system resource",
               "exception": OSError(errno.EMFILE, "Too many open files")}
    # When accept fails 200 times in a row
    with caplog.at_level(logging.ERROR):
        for _ in range(200):
            server.loop.call_soon_threadsafe(server.loop.call_exception_handler, context)
        time.sleep(0.5)
    # Then one line says so, without a traceback
    said = [r for r in caplog.records if "cannot accept connections" in r.getMessage()]
    assert len(said) == 1 and said[0].exc_info is None
    assert "Too many open files" in said[0].getMessage()
    assert handler.suppressed == 199


def test_the_accept_log_reports_again_after_the_interval() -> None:
    now = [0.0]
    log = AcceptErrorLog(interval=60, clock=lambda: now[0])
    context = {"exception": OSError(errno.ENFILE, "Too many open files in system")}
    loop = None  # never used for resource errors
    log(loop, context)  # type: ignore[arg-type]
    log(loop, context)  # type: ignore[arg-type]
    now[0] = 61.0
    log(loop, context)  # type: ignore[arg-type]
    assert log.suppressed == 0


def test_a_trickling_sender_is_cut_off_by_the_data_deadline(
        make_app: Callable[..., App], listen: Callable[..., int]) -> None:
    # Given a DATA deadline shorter than the trickle, and an idle timeout it never trips
    app = make_app(COMMGATE_SMTP__DATA_TIMEOUT="1.5", COMMGATE_SMTP__IDLE_TIMEOUT="30")
    with Wire(listen(app)) as wire:
        wire.envelope()
        assert wire.command("DATA")[0] == 354
        # When the client sends one byte at a time, a little faster than the idle timeout
        closed = None
        for byte in b"Subject: slow\r\n\r\n" + b"x" * 40:
            try:
                wire.send(bytes([byte]))
            except OSError:
                break
            time.sleep(0.3)
            if select.select([wire.sock], [], [], 0)[0]:  # the server said something
                closed = wire.reply()
                break
        # Then the server answers 421 and closes, and nothing is stored
        assert closed is not None and closed[0] == 421, closed
    assert stored_messages(app) == []


def test_a_second_starttls_inside_tls_gets_503(make_app: Callable[..., App],
                                               listen: Callable[..., int],
                                               tmp_path: Path) -> None:
    port = listen(tls_app(make_app, tmp_path))
    context = ssl.create_default_context(cafile=str(tmp_path / "tls" / "cert.pem"))
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo("client.example")
        smtp.starttls(context=context)
        smtp.ehlo("client.example")
        assert smtp.docmd("STARTTLS")[0] == 503
        # And the session goes on, inside the first TLS layer
        assert smtp.sendmail("lina@xdyj.example.com", [DEMO],
                             b"Subject: ok\r\n\r\nstill here\r\n") == {}


def test_auth_is_not_advertised_without_an_authenticator(make_app: Callable[..., App],
                                                         listen: Callable[..., int],
                                                         tmp_path: Path) -> None:
    port = listen(tls_app(make_app, tmp_path))
    context = ssl.create_default_context(cafile=str(tmp_path / "tls" / "cert.pem"))
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        smtp.ehlo("client.example")
        assert not smtp.has_extn("auth")
        smtp.starttls(context=context)
        smtp.ehlo("client.example")
        assert not smtp.has_extn("auth")  # aiosmtpd offered AUTH LOGIN PLAIN inside TLS
        assert smtp.has_extn("pipelining")
        assert smtp.docmd("AUTH", "PLAIN AGxpbmEAc2VjcmV0")[0] == 502
