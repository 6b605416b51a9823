"""Fixtures for the operations tests: an app with every table, an ops endpoint on a free port."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from gateway.app import App, build_app
from gateway.config.settings import Ops, Settings
from gateway.runtime.ops import OpsServer
from gateway.runtime.server import Server
from gateway.store.schema import metadata as _all_tables  # noqa: F401 - maps every model

StartOps = Callable[..., OpsServer]
StartServer = Callable[..., Server]


@pytest.fixture
def ops_app(make_settings: Callable[..., Settings], database_url: str) -> Iterator[App]:
    """An app on a database built by the migrations, as ``serve`` builds it."""
    app = build_app(make_settings(database_url=database_url))
    yield app
    app.close()


@pytest.fixture
def start_ops() -> Iterator[StartOps]:
    started: list[OpsServer] = []

    def start(app: App, server: Server | None = None) -> OpsServer:
        def listening() -> bool:
            return bool(server and server.accepting_mail())

        ops = OpsServer(app, Ops(port=0), smtp_listening=listening if server else None)
        ops.start()
        started.append(ops)
        return ops

    yield start
    for ops in started:
        ops.stop()

