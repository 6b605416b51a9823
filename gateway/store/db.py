"""Engine and session factory; Alembic upgrades. Sessions are owned by the caller at the edge.

SQLite (the embedded default) runs in WAL mode with a busy timeout so the SMTP listener and the
in-process workers can write side by side; PostgreSQL needs nothing special.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def _private_file(path: Path) -> None:
    """The SQLite file exists as 0600 before SQLite opens it (its -wal and -shm files take the
    database file's mode): it holds every message and record."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError as exc:  # read-only or not ours: SQLite says what it can or cannot do
        log.debug("cannot make %s private: %s", path, exc)


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            _private_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # durable before we answer 250
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (Alembic); safe to run on every start."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


class EngineOwner(Protocol):
    """What holds the engine (the App)."""

    engine: Engine


class HeldConnection:
    """A database connection a committing thread keeps between its batches.

    Taking one from the pool and giving it back (with the pool's reset) for every batch cost as
    much as the batch's own statements. The holder — the SMTP writer, the group committer — owns
    it: one thread at a time, :meth:`close` at the end. A connection that failed is dropped, and
    the next batch opens a new one.
    """

    def __init__(self, owner: EngineOwner) -> None:
        self.owner = owner  # its engine is read per connection: a reload may replace it
        self._conn: Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.owner.engine.connect()
        conn = self._conn
        try:
            with conn.begin():
                yield conn
        except IntegrityError:
            raise  # rolled back; the connection is fine
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(Exception):
                conn.close()
