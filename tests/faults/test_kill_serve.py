"""``kill -9`` of a real ``commgate serve`` mid-stream: every message that got ``250`` survives.

A client thread streams messages over SMTP while the gateway runs as a subprocess with its own
config and data folder; the test kills it with SIGKILL after a few dozen replies, starts it
again, and checks that each acknowledged Message-ID is stored exactly once — and, once the
pipeline stages exist, processed exactly once. Messages without a ``250`` may or may not be
there: the client would have retried them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.config.settings import load_settings
from gateway.store.db import make_engine
from gateway.store.models import Message
from tests.support.mail import make_mail
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
PIPELINE = ("gateway.parse", "gateway.thread.assign", "gateway.classify.message")


class Gateway:
    """``python -m gateway serve`` in a subprocess, on its own config copy and data folder."""

    def __init__(self, root: Path) -> None:
        self.config = root / "config"
        shutil.copytree(REPO / "config", self.config)
        self.port = free_port()
        self.log = root / "serve.log"
        self.env = {**os.environ, "COMMGATE_CONFIG": str(self.config / "gateway.toml"),
                    "COMMGATE_DATA_DIR": str(root / "var"), "COMMGATE_DATABASE_URL": "",
                    "COMMGATE_BROKER_URL": "", "COMMGATE_SMTP__PORT": str(self.port),
                    "COMMGATE_OPS__PORT": "0", "COMMGATE_SWEEP_INTERVAL": "0.5",
                    "COMMGATE_SECRET_KEY": "fault-test-secret-0123456789"}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], cwd=REPO,
                                         env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.log.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(3) == b"220":
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"serve did not listen: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def messages(self) -> list[Message]:
        settings = load_settings(self.config / "gateway.toml", self.env)
        engine = make_engine(settings.database_url)
        try:
            with Session(engine) as session:
                return list(session.scalars(select(Message)))
        finally:
            engine.dispose()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = Gateway(tmp_path)
    yield gw
    gw.stop()


def stream(port: int, acked: list[str], stop: threading.Event) -> None:
    """Send messages one per transaction until the server goes away; note each 250."""
    n = 0
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            while not stop.is_set():
                msg = make_mail(subject=f"【指令】巡检 {n}", body=f"第 {n} 条\n")
                smtp.send_message(msg, to_addrs=["proj-demo@gw.example.com"])
                acked.append(msg["Message-ID"].strip("<>"))
                n += 1
    except (smtplib.SMTPException, OSError):
        pass  # killed mid-stream: the unacknowledged message would be retried by a real MTA


@pytest.mark.slow
def test_every_message_acknowledged_before_kill_9_is_kept_and_processed_once(
        gateway: Gateway) -> None:
    # Given a running gateway and a client streaming mail into it
    gateway.start()
    acked: list[str] = []
    stop = threading.Event()
    client = threading.Thread(target=stream, args=(gateway.port, acked, stop), daemon=True)
    client.start()
    deadline = time.monotonic() + 60
    while len(acked) < 40 and time.monotonic() < deadline and client.is_alive():
        time.sleep(0.01)
    # When it is killed with SIGKILL in the middle of the stream
    gateway.kill()
    stop.set()
    client.join(timeout=30)
    assert len(acked) >= 40, gateway.log.read_text()[-3000:]
    # Then after a restart every acknowledged message is there, exactly once
    gateway.start()
    stored = gateway.messages()
    counts: dict[str, int] = {}
    for message in stored:
        counts[message.message_id] = counts.get(message.message_id, 0) + 1
    assert [mid for mid in acked if counts.get(mid) != 1] == []
    if not all(importlib.util.find_spec(name) for name in PIPELINE):
        return  # the processing stages are not written yet: storage is what we can check
    # And, processed by the restarted gateway's sweep, each exactly once
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = {m.message_id: m.state for m in gateway.messages()}
        if all(states.get(mid) == "processed" for mid in acked):
            break
        time.sleep(0.5)
    unprocessed = {mid: states.get(mid) for mid in acked if states.get(mid) != "processed"}
    assert unprocessed == {}, gateway.log.read_text()[-2000:]
    # One row per Message-ID also for what was stored but never acknowledged
    assert len(stored) == len({m.message_id for m in stored})
