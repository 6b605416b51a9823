"""Fixtures for the archive tests: the demo project on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from gateway.app import App
from gateway.config.settings import Settings
from gateway.testing.clock import FakeClock
from tests.audit.helpers import build


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(make_settings: Callable[..., Settings], database_url: str,
        clock: FakeClock) -> Iterator[App]:
    gw = build(make_settings, database_url, clock)
    yield gw
    gw.close()
