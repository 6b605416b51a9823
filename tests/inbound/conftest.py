"""Fixtures for the inbound channels: a gateway on SQLite with a second project, and a running
listener (SMTP or LMTP) on a free loopback port whose workers are off, so tests see intake only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app import App
from gateway.config.settings import Settings
from gateway.runtime.server import Server
from tests.support.apps import app_factory

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
def config_dir(config_dir: Path) -> Path:
    """The shipped config plus a second project, ``ops``, for cross-project cases."""
    (config_dir / "projects" / "ops.toml").write_text(OPS_PROJECT, encoding="utf-8")
    return config_dir


@pytest.fixture
def make_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., App]]:
    """``make_app(**env)``: an App on the test's database (SQLite unless ``database_url``)."""
    with app_factory(make_settings) as make:
        yield make


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


@pytest.fixture
def listen(start_server: Callable[..., Server]) -> Callable[..., int]:
    """``listen(app)``: start a front end (no workers) for ``app``; return its port."""

    def start(app: App, *, run_workers: bool = False) -> int:
        server = start_server(app, run_workers=run_workers)
        assert server.smtp_port is not None
        return server.smtp_port

    return start


@pytest.fixture
def stream_writes(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every chunk handed to an asyncio stream in this process, one entry per write (the
    listener's replies, its frames to the intake writer)."""
    chunks: list[bytes] = []
    real = asyncio.StreamWriter.write

    def write(self: asyncio.StreamWriter, data: Any) -> None:
        chunks.append(bytes(data))
        real(self, data)

    monkeypatch.setattr(asyncio.StreamWriter, "write", write)
    return chunks
