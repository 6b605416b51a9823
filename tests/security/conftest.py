"""Fixtures for the attack suite (issue 9): a gateway with every table and a movable clock, a
second project for cross-project tokens, a running listener on loopback, and the CLI in-process.

The suite runs on SQLite only: every attack here targets the edge (SMTP, parsing, rendering,
composing), not the data layer, and the 2 shared cores are better spent elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import gateway.jobs.periodic
import gateway.store.schema
from gateway.app import App
from gateway.config.settings import Settings
from gateway.runtime.server import Server
from gateway.testing.clock import FakeClock
from gateway.testing.clock import local as at
from tests.support.apps import app_factory, cli_for

SH = ZoneInfo("Asia/Shanghai")

OPS_PROJECT = """\
code = "ops"
name = "第二个项目"
address = "proj-ops@gw.example.com"
company_domain = "xdyj.example.com"

[[members]]
name = "王强"
email = "wangqiang@xdyj.example.com"
role = "dept_manager"

[[members]]
name = "张伟"
email = "zhangwei@xdyj.example.com"
role = "project_manager"
"""


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only (see the module docstring)."""
    (tmp_path / "var").mkdir(exist_ok=True)
    return f"sqlite:///{tmp_path / 'var' / 'commgate.db'}"


@pytest.fixture
def config_dir(config_dir: Path) -> Path:
    """The shipped config plus a second project, ``ops``, for other-project reply tokens."""
    (config_dir / "projects" / "ops.toml").write_text(OPS_PROJECT, encoding="utf-8")
    return config_dir


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at("2026-11-24 10:00"))  # a Tuesday, a working day


@pytest.fixture
def make_app(make_settings: Callable[..., Settings], database_url: str, clock: FakeClock,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., App]]:
    """``make_app(**env)``: an app on a database built by the migrations."""
    monkeypatch.setattr(gateway.jobs.periodic, "SERVE_TICK_INTERVAL", 1e9)  # the test ticks
    with app_factory(make_settings, database_url, clock) as make:
        yield make


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


@pytest.fixture
def serve(start_server: Callable[..., Server]) -> Callable[..., int]:
    """``serve(app, run_workers=True)``: a running front end for ``app``; returns its port."""

    def start(app: App, *, run_workers: bool = True) -> int:
        server = start_server(app, run_workers=run_workers)
        assert server.smtp_port is not None
        return server.smtp_port

    return start


@pytest.fixture
def cli(app: App) -> Callable[..., Any]:
    """``commgate …`` in-process, on the test's database and data folder."""
    return cli_for(app)
