"""Stopping the listener in-process: idle sessions hear 421, a stalled DATA is cut off."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from gateway.app import App
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from tests.ops.conftest import StartServer
from tests.ops.serve import RawSmtp

DEMO = "proj-demo@gw.example.com"


def test_an_idle_session_is_told_421_when_the_server_stops(ops_app: App,
                                                          start_server: StartServer) -> None:
    server = start_server(ops_app)
    client = RawSmtp(server.smtp_port)
    assert client.command("EHLO client.example")[0] == 250

    server.stop()

    assert client.reply()[0] == 421  # RFC 5321 §3.8
    client.close()


def test_a_data_that_never_ends_is_cut_off_unacknowledged_at_the_drain_timeout(
        ops_app: App, start_server: StartServer) -> None:
    # Given a client that starts its DATA and then stalls
    server = start_server(ops_app)
    client = RawSmtp(server.smtp_port)
    assert client.command("EHLO client.example")[0] == 250
    assert client.command("MAIL FROM:<lina@xdyj.example.com>")[0] == 250
    assert client.command(f"RCPT TO:<{DEMO}>")[0] == 250
    assert client.command("DATA")[0] == 354
    client.send(b"Subject: stalled\r\n\r\nhalf a message")

    # When the server stops with a short drain
    stopper = threading.Thread(target=server.stop, kwargs={"drain_timeout": 0.5})
    stopper.start()
    stopper.join(timeout=60)

    # Then the session is closed without a 250, and nothing was stored (the client retries)
    assert client.reply()[0] == 421
    client.close()
    with unit_of_work(ops_app.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
