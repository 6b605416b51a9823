"""The write probe behind ``/healthz``: can the gateway store a message right now?

A read query succeeds while the database is locked by a stuck writer, the disk is full or the
broker is gone — exactly when intake answers ``451`` and jobs are lost. So ``/healthz`` also
tries, each with a short timeout, what storing a message needs:

* the database's write lock (SQLite: ``BEGIN IMMEDIATE`` with a short busy timeout; PostgreSQL:
  a transaction that is given a transaction id, under a short ``lock_timeout`` and
  ``statement_timeout``), rolled back, so the probe changes nothing;
* a file written and fsynced in the data folder (``.healthz-probe``), which fails when the disk
  is full or read-only;
* the broker, when one is configured (a Redis ``PING``, or a TCP connection to RabbitMQ).

Each failure is one short reason; the probe never raises.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

from sqlalchemy import text

from gateway.app import App

PROBE_TIMEOUT = 3.0  # seconds: "locked for longer than a few seconds" is unhealthy


def write_problems(app: App, *, timeout: float = PROBE_TIMEOUT,
                   database: bool = True) -> list[str]:
    """What keeps the gateway from storing a message now; empty when nothing does.
    ``database=False`` skips the database's write probe (its reader already failed, and the
    same failure twice says nothing more)."""
    found = (_database(app, timeout) if database else None, _disk(app), _broker(app, timeout))
    return [p for p in found if p]


def _database(app: App, timeout: float) -> str | None:
    try:
        with app.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql(f"PRAGMA busy_timeout={int(timeout * 1000)}")
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    conn.exec_driver_sql("ROLLBACK")
                finally:
                    conn.exec_driver_sql("PRAGMA busy_timeout=30000")
            else:
                ms = int(timeout * 1000)
                try:  # one transaction (autobegun), rolled back: the probe changes nothing
                    conn.execute(text(f"SET LOCAL lock_timeout = {ms}"))
                    conn.execute(text(f"SET LOCAL statement_timeout = {ms}"))
                    conn.execute(text("SELECT pg_current_xact_id()"))  # fails read-only
                finally:
                    conn.rollback()
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return f"database cannot be written: {_first_line(exc)}"
    return None


def _disk(app: App) -> str | None:
    probe = app.settings.data_dir / ".healthz-probe"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, b"commgate healthz probe\n" * 16)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return f"data folder cannot be written: {exc.strerror or exc}"
    return None


def _broker(app: App, timeout: float) -> str | None:
    url = app.settings.gateway.broker_url
    if not url:
        return None
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(url, socket_timeout=timeout,
                                          socket_connect_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
        else:
            parts = urlsplit(url)
            default = 5671 if parts.scheme == "amqps" else 5672
            with socket.create_connection((parts.hostname or "localhost", parts.port or default),
                                          timeout=timeout):
                pass
    except Exception as exc:  # noqa: BLE001 - any failure is the answer
        return f"broker unavailable: {_first_line(exc)}"
    return None


def _first_line(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc).strip()
    return f"{type(exc).__name__}: {text_.splitlines()[0] if text_ else ''}"
