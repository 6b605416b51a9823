"""The intake writer process (gateway/inbound/writer.py): what the front end does when it dies,
how it stops with the server, and that the front end's clock and projects are what count."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from gateway.app import App
from gateway.inbound.intake import Accepted
from gateway.inbound.writer_process import WriteRequest
from gateway.runtime.server import Server
from tests.inbound.wire import DEMO, Wire, stored_messages


def mail(n: int) -> bytes:
    return (f"From: lina@xdyj.example.com\r\nSubject: writer {n}\r\n"
            f"Message-ID: <writer-{n}@xdyj.example.com>\r\n\r\nhello\r\n.\r\n").encode()


def test_a_killed_writer_answers_451_then_a_new_one_takes_over(
        app: App, start_server: Callable[..., Server]) -> None:
    server = start_server(app, run_workers=False)
    writer = server.writer
    assert writer is not None and writer.alive
    port = server.smtp_port
    assert port is not None
    with Wire(port) as wire:
        wire.envelope()
        assert wire.data(mail(1))[0] == 250
        # When the writer process is killed outright
        first = writer._process
        os.kill(first.pid, signal.SIGKILL)
        first.join(timeout=10)
        # (and /healthz says so: the listener cannot store mail until a new writer runs)
        deadline = time.monotonic() + 10
        while server.accepting_mail() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not server.accepting_mail()
        # Then mail is answered 451 (retry) until a new writer runs, and then stored again
        codes = []
        for _attempt in range(200):
            wire.envelope(helo="RSET")
            code, _ = wire.data(mail(2))
            codes.append(code)
            if code == 250:
                break
            time.sleep(0.1)
        assert codes[-1] == 250 and set(codes[:-1]) <= {451}
    assert writer.restarts == 1 and writer._process.pid != first.pid
    assert server.accepting_mail()
    assert sorted(m.message_id for m in stored_messages(app)) == [
        "writer-1@xdyj.example.com", "writer-2@xdyj.example.com"]


def test_stopping_the_server_stops_the_writer(app: App) -> None:
    from gateway.jobs.actors import make_jobs

    server = Server(app, make_jobs(""), run_workers=False)
    server.start()
    assert server.writer is not None
    process = server.writer._process
    assert process.is_alive()
    server.stop(drain_timeout=10)
    assert not process.is_alive() and process.exitcode == 0


def test_the_writer_stores_the_front_ends_time_and_project(
        make_app: Callable[..., App], start_server: Callable[..., Server]) -> None:
    when = datetime(2026, 10, 8, 9, 0, tzinfo=UTC)
    app = make_app()
    app.clock = lambda: when
    server = start_server(app, run_workers=False)
    assert server.smtp_port is not None
    with Wire(server.smtp_port) as wire:
        wire.envelope("proj-ops@gw.example.com")
        assert wire.data(mail(3))[0] == 250
    [message] = stored_messages(app)
    assert message.received_at == when
    assert message.project_id == app.project_ids["ops"]


@pytest.mark.parametrize("writer", ["process", "thread"])
def test_both_writers_store_the_same_rows(make_app: Callable[..., App],
                                          start_server: Callable[..., Server],
                                          writer: str) -> None:
    app = make_app(COMMGATE_SMTP__WRITER=writer)
    server = start_server(app, run_workers=False)
    assert (server.writer is not None) == (writer == "process")
    assert server.smtp_port is not None
    with Wire(server.smtp_port) as wire:
        for n in range(5):
            wire.envelope(helo="RSET" if n else "EHLO client.example")
            assert wire.data(mail(n))[0] == 250
        wire.envelope(helo="RSET")
        assert wire.data(mail(0))[0] == 250  # again: a further arrival, not a new message
    messages = stored_messages(app)
    assert sorted(m.message_id for m in messages) == [
        f"writer-{n}@xdyj.example.com" for n in range(5)]
    assert all(app.raw.verify(m.sha256) for m in messages)


def test_a_large_message_is_written_by_the_front_end_and_committed_by_the_writer(
        app: App, start_server: Callable[..., Server]) -> None:
    server = start_server(app, run_workers=False)
    assert server.smtp_port is not None
    line = b"x" * 76 + b"\r\n"
    big = (b"From: lina@xdyj.example.com\r\nSubject: big\r\n"
           b"Message-ID: <writer-big@xdyj.example.com>\r\n\r\n" + line * 8000)  # ~600 KiB
    with Wire(server.smtp_port) as wire:
        wire.envelope()
        assert wire.data(big + b".\r\n")[0] == 250
        wire.envelope(helo="RSET")
        assert wire.data(mail(9))[0] == 250
    by_id = {m.message_id: m for m in stored_messages(app)}
    stored = by_id["writer-big@xdyj.example.com"]
    assert app.raw.get(stored.sha256).endswith(big) and stored.size > len(big)
    assert "writer-9@xdyj.example.com" in by_id


def test_the_frames_of_one_loop_turn_reach_the_writer_in_one_write(
        app: App, start_server: Callable[..., Server], stream_writes: list[bytes]) -> None:
    # One write, so the writer wakes once and commits the sessions' messages as one batch
    server = start_server(app, run_workers=False)
    writer = server.writer
    assert writer is not None and server.loop is not None
    before = len(stream_writes)
    requests = [WriteRequest(project="demo", project_id=app.project_ids["demo"],
                             raw=mail(20 + n)[:-3], channel="smtp", peer="127.0.0.1",
                             envelope_from="lina@xdyj.example.com", envelope_to=[DEMO],
                             received_at=app.clock()) for n in range(5)]

    async def five_sessions_at_once() -> list[object]:
        return list(await asyncio.gather(*(writer.submit(r) for r in requests)))

    outcomes = asyncio.run_coroutine_threadsafe(five_sessions_at_once(), server.loop).result(30)
    assert all(isinstance(o, Accepted) and not o.duplicate for o in outcomes)
    assert len(stream_writes) - before == 1
    assert len(stored_messages(app)) == 5
