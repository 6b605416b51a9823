"""/healthz tells "can store mail" from "answers a query", the worker and the scheduler expose
their own /metrics, and the sample alert reads a gauge as a gauge (issue 16, operations)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.app import App, build_app
from gateway.config.settings import Settings
from tests.ops.conftest import StartOps
from tests.ops.helpers import get, health
from tests.support.apps import SECRET
from tests.support.ports import free_port
from tests.support.services import REDIS_URL

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def probe_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(**kwargs: str) -> App:
        app = build_app(make_settings(**kwargs))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def test_healthz_is_ok_when_a_write_would_succeed(probe_app: Callable[..., App],
                                                  start_ops: StartOps) -> None:
    status, report = health(start_ops(probe_app()))
    assert status == 200 and report["writable"] == "ok"


def test_healthz_is_not_ok_while_another_writer_holds_the_database(
        probe_app: Callable[..., App], start_ops: StartOps) -> None:
    app = probe_app()
    ops = start_ops(app)
    # Given a stuck writer holding SQLite's write lock (reads still answer)
    stuck = sqlite3.connect(app.settings.data_dir / "commgate.db", isolation_level=None)
    stuck.execute("BEGIN IMMEDIATE")
    try:
        status, report = health(ops)
    finally:
        stuck.execute("ROLLBACK")
        stuck.close()
    # Then /healthz says the gateway cannot store mail
    assert status == 503
    assert report["database"] == "ok"  # the read query alone would have said "ok"
    assert "database cannot be written" in report["reason"]
    # And once the lock is free it is healthy again
    assert health(ops)[0] == 200


def test_healthz_is_not_ok_when_the_data_folder_cannot_be_written(
        probe_app: Callable[..., App], start_ops: StartOps) -> None:
    app = probe_app()
    (app.settings.data_dir / ".healthz-probe").mkdir()  # the probe's file cannot be written
    status, report = health(start_ops(app))
    assert status == 503 and "data folder cannot be written" in report["reason"]


def test_healthz_is_not_ok_when_the_broker_is_down(
        probe_app: Callable[..., App], start_ops: StartOps) -> None:
    app = probe_app(broker_url=f"redis://127.0.0.1:{free_port()}/0")  # nobody listens there
    status, report = health(start_ops(app))
    assert status == 503 and "broker unavailable" in report["reason"]


def _metrics_of(command: list[str], port_setting: str, config_dir: Path,
                tmp_path: Path) -> bytes:
    """Start ``commgate <command>`` with its metrics port set; /metrics once it answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMGATE_")}
    env.update({"COMMGATE_DATA_DIR": str(tmp_path / "var"), "COMMGATE_SECRET_KEY": SECRET,
                "COMMGATE_BROKER_URL": REDIS_URL, port_setting: str(port)})
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "--config",
                             str(config_dir / "gateway.toml"), *command], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                status, body = get(f"http://127.0.0.1:{port}/metrics")
                if status == 200:
                    return body
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no /metrics: {proc.stderr.read() if proc.stderr else ''!r}")
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.parametrize(("command", "setting"), [
    (["worker", "--threads", "1"], "COMMGATE_OPS__WORKER_PORT"),
    (["scheduler", "--interval", "60"], "COMMGATE_OPS__SCHEDULER_PORT"),
])
def test_worker_and_scheduler_expose_metrics_on_their_own_port(
        config_dir: Path, tmp_path: Path, command: list[str], setting: str) -> None:
    body = _metrics_of(command, setting, config_dir, tmp_path).decode()
    assert "# TYPE commgate_outbox_failed gauge" in body


def test_the_sample_alert_reads_the_outbox_gauge_with_a_gauge_function() -> None:
    docs = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    [expr] = [line for line in docs.splitlines()
              if "expr:" in line and "commgate_outbox_failed" in line]
    # rate() and increase() are for counters: on a gauge that goes down they invent resets
    assert not re.search(r"\b(rate|irate|increase)\(commgate_outbox_failed", expr), expr
    assert re.search(r"\b(delta|deriv|max_over_time|changes)\(commgate_outbox_failed", expr) \
        or re.search(r"commgate_outbox_failed\s*>", expr), expr
