"""Apps and the command line for tests: one place for what every suite's conftest needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from typer.testing import CliRunner

from gateway.app import App, build_app
from gateway.cli.main import app as cli_app
from gateway.config.settings import Settings

SECRET = "test-secret-key-0123456789"


@contextmanager
def app_factory(make_settings: Callable[..., Settings], default_url: str = "",
                clock: Callable[[], datetime] | None = None) -> Iterator[Callable[..., App]]:
    """``make(**env)`` builds an App on ``database_url`` (or the ``database_url`` it is given),
    migrated as ``serve`` does, with ``clock`` when given; every App made is closed on exit."""
    apps: list[App] = []

    def make(*, database_url: str | None = None, **env: str) -> App:
        url = default_url if database_url is None else database_url
        settings = make_settings(database_url=url, **env)
        app = build_app(settings, clock=clock) if clock is not None else build_app(settings)
        apps.append(app)
        return app

    try:
        yield make
    finally:
        for app in apps:
            app.close()


def cli_for(app: App) -> Callable[..., Any]:
    """``run(*args, code=0)``: ``commgate …`` in-process, on ``app``'s database and data."""
    settings = app.settings
    env = {"COMMGATE_DATABASE_URL": settings.database_url,
           "COMMGATE_DATA_DIR": str(settings.data_dir), "COMMGATE_SECRET_KEY": SECRET}
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> Any:
        result = runner.invoke(cli_app, ["--config", str(settings.config_path), *args],
                               env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result

    return run
