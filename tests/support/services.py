"""The machine's real servers (PostgreSQL, Redis, RabbitMQ): reachability and scratch databases.

Locally a missing server skips its tests with the reason; under CI (``CI`` set) it fails them,
because CI must exercise every backend.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_ADMIN_URL = os.environ.get("COMMGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _redis_url(base: str) -> str:
    """The Redis database of this test process: each pytest-xdist worker (gw0, gw1, …) gets its
    own, counting down from the configured one, so one worker's FLUSHDB never empties
    another's queues."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return base
    root, _, db = base.rpartition("/")
    number = int(db) if db.isdigit() else 0
    return f"{root}/{(number - int(worker[2:])) % 16}"


REDIS_URL = _redis_url(os.environ.get("COMMGATE_TEST_REDIS", "redis://127.0.0.1:6379/15"))
RABBIT_URL = os.environ.get("COMMGATE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require(host: str, port: int, what: str) -> None:
    if reachable(host, port):
        return
    message = f"{what} is not running on {host}:{port}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must test this backend)")
    pytest.skip(message)


@contextmanager
def scratch_postgres(prefix: str = "commgate_test") -> Iterator[str]:
    """A new, empty PostgreSQL database for one test session; dropped afterwards."""
    import psycopg

    require("127.0.0.1", 5432, "PostgreSQL")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
