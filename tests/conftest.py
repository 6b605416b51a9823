"""Shared fixtures: a gateway configured into a temporary folder, on SQLite or PostgreSQL, and a
running ``serve`` (SMTP listener on a free loopback port, workers in-process or on Redis)."""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.app import App, build_app
from gateway.config.settings import Settings, load_settings
from gateway.jobs.actors import Jobs, make_jobs
from gateway.runtime.server import Server
from tests.support.services import scratch_postgres

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the shipped config, so tests may edit it."""
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    return target


@pytest.fixture
def make_settings(tmp_path: Path, config_dir: Path) -> Callable[..., Settings]:
    def make(database_url: str = "", broker_url: str = "", **env: str) -> Settings:
        environ = {
            "COMMGATE_DATA_DIR": str(tmp_path / "var"),
            "COMMGATE_DATABASE_URL": database_url,
            "COMMGATE_BROKER_URL": broker_url,
            "COMMGATE_SMTP__PORT": "0",
            "COMMGATE_SWEEP_INTERVAL": "0.5",
            "COMMGATE_SECRET_KEY": "test-secret-key-0123456789",
            **env,
        }
        return load_settings(config_dir / "gateway.toml", environ)

    return make


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with scratch_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each data-layer test runs on SQLite and on PostgreSQL (a fresh database per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'commgate.db'}"
    else:
        with scratch_postgres() as url:
            yield url


@pytest.fixture
def gateway_app(make_settings: Callable[..., Settings], database_url: str) -> Iterator[App]:
    app = build_app(make_settings(database_url=database_url))
    yield app
    app.close()


@pytest.fixture
def start_server() -> Iterator[Callable[[App, Jobs | None], Server]]:
    started: list[Server] = []
    made: list[Jobs] = []  # brokers made here are closed here; a test closes the ones it passes

    def start(app: App, jobs: Jobs | None = None, *, run_workers: bool = True) -> Server:
        if jobs is None:
            jobs = make_jobs(app.settings.gateway.broker_url)
            made.append(jobs)
        server = Server(app, jobs, run_workers=run_workers)
        server.start()
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in reversed(started):
        server.stop(drain_timeout=10)
    for jobs in made:
        jobs.broker.close()  # a real broker's connections (RabbitMQ, Redis) are sockets


if os.environ.get("COMMGATE_TEST_GC"):
    # A leak that only the garbage collector finds is reported in whichever test runs when it
    # collects. With COMMGATE_TEST_GC=1 every test ends with a collection, so the warning names
    # the test that leaked (run with -W error::pytest.PytestUnraisableExceptionWarning).
    @pytest.fixture(autouse=True)
    def _collect_after_each_test() -> Iterator[None]:
        yield
        gc.collect()
