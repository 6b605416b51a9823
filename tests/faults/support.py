"""Shared helpers of the fault suite (issue 9): real processes, private servers, the invariants.

Every fault test runs the gateway as real ``python -m gateway …`` subprocesses on a copy of the
config and a data folder of its own, and breaks one dependency underneath it: a private
PostgreSQL cluster or Redis server started here (the machine's shared ones are never touched),
an SMTP relay sink, a Dovecot, a tiny file system. Afterwards the same invariants are checked:
every message that got ``250`` is stored and processed exactly once (one row per Message-ID,
one record per thread) and every outbox mail is delivered exactly once. Every process started
here is killed in teardown, also when the test fails.
"""

from __future__ import annotations

import mailbox
import os
import pwd
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gateway.store.db import make_engine
from gateway.store.models import Message, Record
from gateway.store.notify_models import OutboxMail
from tests.support.mail import make_mail
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
SECRET = "fault-test-secret-0123456789"


def wait_until(probe: Callable[[], Any], *, timeout: float, what: str,
               interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 20.0) -> None:
    """SIGTERM, then SIGKILL: never leave a process of ours behind."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class Gateway:
    """``python -m gateway <command>`` subprocesses on one config copy and data folder."""

    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.config = root / "config"
        if not self.config.exists():
            shutil.copytree(REPO / "config", self.config)
        self.port = free_port()
        self.data = root / "var"
        self.env = {**os.environ, "COMMGATE_CONFIG": str(self.config / "gateway.toml"),
                    "COMMGATE_DATA_DIR": str(self.data), "COMMGATE_DATABASE_URL": "",
                    "COMMGATE_BROKER_URL": "", "COMMGATE_SMTP__PORT": str(self.port),
                    "COMMGATE_SWEEP_INTERVAL": "0.5", "COMMGATE_OPS__ENABLED": "false",
                    "COMMGATE_SWEEP_STALE_AFTER": "5",
                    "COMMGATE_SECRET_KEY": SECRET, **env}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def database_url(self) -> str:
        return self.env["COMMGATE_DATABASE_URL"] or f"sqlite:///{self.data / 'commgate.db'}"

    def log(self, name: str = "serve") -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", "gateway", *args], cwd=REPO,
                                    env=self.env, stdout=log, stderr=log)
        self.procs[name] = proc
        return proc

    def run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        """One CLI command to completion (``tick``, ``notice send`` …); fails the test on error."""
        done = subprocess.run([sys.executable, "-m", "gateway", *args], cwd=REPO, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        assert done.returncode == 0, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def serve(self, timeout: float = 90.0) -> None:
        proc = self.spawn("serve", "serve")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(3) == b"220":
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"serve did not listen: {self.log()}")

    def stop(self, name: str) -> None:
        _stop(self.procs.pop(name, None))

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)


@contextmanager
def gateway_in(root: Path, **env: str) -> Iterator[Gateway]:
    gw = Gateway(root, **env)
    try:
        yield gw
    finally:
        gw.close()


# --- the client: an MTA that retries every 4xx and connection failure -----------------------

class Stream:
    """Sends ``count`` distinct directives in a thread, each retried until ``250`` (like an MTA)."""

    def __init__(self, port: int, count: int, *, deadline: float = 180.0,
                 pause: float = 0.0) -> None:
        self.port, self.count, self.deadline, self.pause = port, count, deadline, pause
        self.acked: list[str] = []
        self.tempfails: Counter[str] = Counter()  # reply code or exception name → times
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True, name="fault-stream")

    def start(self) -> Stream:
        self.thread.start()
        return self

    def join(self, timeout: float = 240.0) -> None:
        self.thread.join(timeout=timeout)
        assert not self.thread.is_alive(), "the client stream did not finish"
        assert self.errors == [], self.errors

    def _run(self) -> None:
        stop_at = time.monotonic() + self.deadline
        smtp: smtplib.SMTP | None = None
        for n in range(self.count):
            msg = make_mail(subject=f"【指令】巡检 {n}", body=f"第 {n} 条，请回复确认。\n")
            while True:
                if time.monotonic() > stop_at:
                    self.errors.append(f"message {n} never accepted")
                    return
                try:
                    if smtp is None:
                        smtp = smtplib.SMTP("127.0.0.1", self.port, timeout=30)
                    smtp.send_message(msg, to_addrs=["proj-demo@gw.example.com"])
                    self.acked.append(msg["Message-ID"].strip("<>"))
                    break
                except smtplib.SMTPResponseException as exc:
                    if not 400 <= exc.smtp_code < 500:
                        self.errors.append(f"message {n}: permanent {exc.smtp_code} "
                                           f"{exc.smtp_error!r}")
                        return
                    self.tempfails[str(exc.smtp_code)] += 1
                except smtplib.SMTPRecipientsRefused as exc:
                    codes = {code for code, _ in exc.recipients.values()}
                    if any(code >= 500 for code in codes):
                        self.errors.append(f"message {n}: recipient refused {exc.recipients}")
                        return
                    self.tempfails[str(min(codes))] += 1
                except (smtplib.SMTPException, OSError) as exc:
                    self.tempfails[type(exc).__name__] += 1
                if smtp is not None:  # after a refusal start over on a fresh connection
                    try:
                        smtp.close()
                    finally:
                        smtp = None
                time.sleep(0.2)
            if self.pause:
                time.sleep(self.pause)
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


# --- the invariants -------------------------------------------------------------------------

@contextmanager
def database(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def states(url: str) -> dict[str, list[str]]:
    """Message-ID → states of its rows (more than one entry: stored twice)."""
    out: dict[str, list[str]] = {}
    with database(url) as engine, Session(engine) as session:
        for mid, state in session.execute(select(Message.message_id, Message.state)):
            out.setdefault(mid, []).append(state)
    return out


def assert_processed_exactly_once(url: str, acked: list[str], *, timeout: float = 120.0,
                                  log: Callable[[], str] = str) -> None:
    """Each acknowledged Message-ID: one row, state ``processed``, one record, one per thread."""
    assert len(acked) == len(set(acked))

    def all_processed() -> bool:
        try:
            seen = states(url)
        except Exception:  # noqa: BLE001 - the database may still be coming back
            return False
        return all(seen.get(mid) == ["processed"] for mid in acked)

    try:
        wait_until(all_processed, timeout=timeout, what="every acknowledged message processed")
    except AssertionError:
        seen = states(url)
        wrong = {mid: seen.get(mid) for mid in acked if seen.get(mid) != ["processed"]}
        raise AssertionError(f"not processed exactly once: {wrong}\n{log()}") from None
    with database(url) as engine, Session(engine) as session:
        doubled = session.execute(select(Message.message_id, func.count())
                                  .group_by(Message.message_id).having(func.count() > 1)).all()
        assert doubled == [], f"Message-IDs stored more than once: {doubled}"
        rows = session.execute(select(Message.message_id, Message.record_id, Message.thread_id)
                               .where(Message.message_id.in_(acked))).all()
        assert [mid for mid, record, _ in rows if record is None] == []
        per_thread = session.execute(select(Record.thread_id, func.count())
                                     .group_by(Record.thread_id)
                                     .having(func.count() > 1)).all()
        assert per_thread == [], f"threads with more than one record: {per_thread}"
        # every acknowledged message is a directive of its own: its own thread and record
        assert len({record for _, record, _ in rows}) == len(acked)


def outbox_rows(url: str) -> list[OutboxMail]:
    with database(url) as engine, Session(engine) as session:
        return list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def maildir_message_ids(folder: Path) -> Counter[str]:
    ids: Counter[str] = Counter()
    if not folder.exists():
        return ids
    box = mailbox.Maildir(folder, create=False)
    for key in box.iterkeys():
        ids[str(message_from_bytes(box.get_bytes(key))["Message-ID"]).strip()] += 1
    return ids


def assert_outbox_delivered_once(url: str, delivered: Counter[str], *,
                                 kinds: tuple[str, ...] = ()) -> list[OutboxMail]:
    """Every outbox row (of ``kinds``) sent, and each Message-ID delivered exactly once."""
    rows = [row for row in outbox_rows(url) if not kinds or row.kind in kinds]
    assert len({row.idempotency_key for row in rows}) == len(rows)
    assert {row.id: row.state for row in rows if row.state != "sent"} == {}
    wanted = {row.message_id.strip() for row in rows}
    assert {mid: delivered[mid] for mid in wanted if delivered[mid] != 1} == {}
    assert {mid: n for mid, n in delivered.items() if n != 1} == {}
    return rows


# --- private servers ------------------------------------------------------------------------

def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        pytest.skip(f"PostgreSQL server binaries ({name}) are not installed")
    return str(found[-1])


class PrivatePostgres:
    """A throw-away cluster on a free port (never the machine's shared server)."""

    def __init__(self) -> None:
        self.port = free_port()
        # initdb refuses root; the cluster belongs to the postgres account, in a folder that
        # account can reach (pytest's tmp_path is private to root)
        self.user = "postgres" if os.getuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
        self.root = Path(tempfile.mkdtemp(prefix="commgate-fault-pg-"))
        self.data = self.root / "data"
        if os.getuid() == 0:
            account = pwd.getpwnam(self.user)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_owner(self, *cmd: str, timeout: float = 120.0) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if os.getuid() == 0 else []
        done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=timeout,
                              check=False)
        assert done.returncode == 0, f"{cmd}: {done.stdout}\n{done.stderr}"

    def _ctl(self, action: str, *extra: str) -> None:
        self._as_owner(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "pg.log"),
                       "-w", "-t", "60",
                       "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                       "-c fsync=off", action, *extra)

    def init(self) -> PrivatePostgres:
        self._as_owner(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                       "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        self.start()
        return self

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` on a free port, without persistence: a restart loses every queued job."""

    def __init__(self, root: Path) -> None:
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> None:
        assert self.binary is not None
        with (self.root / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--daemonize", "no", "--dir", str(self.root)],
                stdout=log, stderr=log)
        wait_until(lambda: _answers(self.port), timeout=timeout, what="private redis",
                   interval=0.05)

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --- an SMTP relay that refuses, disappears and returns -------------------------------------

class RelaySink:
    """An aiosmtpd relay on a fixed free port: ``refuse`` (451), ``down`` or ``accept``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.mode = "refuse"
        self.refused = 0
        self.received: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._controller: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.mode != "accept":
                self.refused += 1
                return "451 4.3.0 relay busy, try again later"
            raw = envelope.original_content or envelope.content
            self.received[str(message_from_bytes(raw)["Message-ID"]).strip()] += 1
        return "250 2.0.0 OK"

    def up(self, mode: str) -> None:
        from aiosmtpd.controller import Controller

        self.mode = mode
        if self._controller is None:
            self._controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                          decode_data=False)
            self._controller.start()

    def down(self) -> None:
        self.mode = "down"
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


SHIFTED_DELIVERY = """
import sys, time
from datetime import datetime, timedelta
from gateway.app import build_app
from gateway.config.settings import load_settings
from gateway.notify.outbox import deliver_due
import os
start, t0 = datetime.fromisoformat(sys.argv[1]), time.monotonic()
app = build_app(load_settings(os.environ["COMMGATE_CONFIG"], dict(os.environ)), migrate=False,
                clock=lambda: start + timedelta(seconds=time.monotonic() - t0))
while True:
    try:
        deliver_due(app, now=app.clock())
    except Exception as exc:
        print("delivery failed:", exc, flush=True)
    time.sleep(0.3)
"""


def spawn_delivery_at(gw: Gateway, start: str) -> subprocess.Popen[bytes]:
    """A delivery process whose clock starts at ``start`` (mail queued by ``tick --now``)."""
    with (gw.root / "deliver.log").open("ab") as log:
        proc = subprocess.Popen([sys.executable, "-c", SHIFTED_DELIVERY, start], cwd=REPO,
                                env=gw.env, stdout=log, stderr=log)
    gw.procs["deliver"] = proc
    return proc
