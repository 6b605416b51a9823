"""Fixtures for the operations tests: an app with every table, an ops endpoint on a free port."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from gateway.app import App, build_app
from gateway.config import Ops, Settings
from gateway.ops import OpsServer
from gateway.server import Server
from gateway.store.db import make_engine
from gateway.store.models import Base
from gateway.store.schema import metadata as _all_tables  # noqa: F401 - maps every model

StartOps = Callable[..., OpsServer]
StartServer = Callable[..., Server]


@pytest.fixture
def ops_app(make_settings: Callable[..., Settings], database_url: str) -> Iterator[App]:
    """An app whose schema is the models' own (create_all), not the migrations: the receipts,
    outbox and IMAP tables are still changing and their migrations are generated later."""
    settings = make_settings(database_url=database_url)
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = build_app(settings, migrate=False)
    yield app
    app.close()


@pytest.fixture
def start_ops() -> Iterator[StartOps]:
    started: list[OpsServer] = []

    def start(app: App, server: Server | None = None) -> OpsServer:
        def listening() -> bool:
            return bool(server and server.smtp_server and server.smtp_server.is_serving())

        ops = OpsServer(app, Ops(port=0), smtp_listening=listening if server else None)
        ops.start()
        started.append(ops)
        return ops

    yield start
    for ops in started:
        ops.stop()

