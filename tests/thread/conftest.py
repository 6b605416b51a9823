"""Fixtures for the threading stage: one story, three threaders (memory, SQLite, PostgreSQL).

``threader`` hands a test a :class:`Driver` whose ``add`` threads one message and commits, the
way the thread job will; the PostgreSQL database is a scratch one per test session, dropped at
the end, and every test gets a project of its own inside it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.db import make_engine, make_sessionmaker, unit_of_work
from gateway.store.models import Base, Project, Thread, ThreadRef
from gateway.thread.assign import assign_thread
from gateway.thread.evidence import ThreadAssignment, Threader, ThreadEvidence
from tests.support.services import scratch_postgres
from tests.thread.mail import T0

_codes = itertools.count(1)


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    with scratch_postgres(prefix="commgate_thread") as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()


def new_project(factory: sessionmaker[Session]) -> tuple[int, str]:
    code = f"demo{next(_codes)}x{id(factory) % 997}"
    with unit_of_work(factory) as session:
        project = Project(code=code, address=f"proj-{code}@gw.example.com")
        session.add(project)
        session.flush()
        return project.id, code


@dataclass
class Driver:
    """Threads messages one transaction each; ``factory`` is None for the in-memory threader."""

    name: str
    factory: sessionmaker[Session] | None
    project_id: int
    memory: Threader
    record_thread: Callable[[int], int | None] | None = None

    def add(self, ev: ThreadEvidence, now: datetime | None = None) -> ThreadAssignment:
        now = now or max(T0, ev.date or T0)  # the message arrives when it is dated
        if self.factory is None:
            return self.memory.add(ev, now=now, record_thread=self.record_thread)
        with unit_of_work(self.factory) as session:
            return assign_thread(session, project_id=self.project_id, evidence=ev, now=now,
                                 record_thread=self.record_thread)

    def thread_of(self, message_id: str) -> int | None:
        if self.factory is None:
            return self.memory.thread_of(message_id)
        with unit_of_work(self.factory) as session:
            thread_id = session.scalar(select(ThreadRef.thread_id).where(
                ThreadRef.project_id == self.project_id, ThreadRef.message_id == message_id))
            if thread_id is not None:
                thread = session.get(Thread, thread_id)
                assert thread is not None and thread.merged_into is None, "ref on a dead thread"
            return thread_id

    def groups(self) -> list[set[str]]:
        """Stored (seen) messages grouped by thread, order-free."""
        if self.factory is None:
            found = self.memory.groups().values()
            return sorted((set(g) for g in found), key=lambda g: sorted(g))
        with unit_of_work(self.factory) as session:
            rows = session.execute(select(ThreadRef.thread_id, ThreadRef.message_id).where(
                ThreadRef.project_id == self.project_id, ThreadRef.seen.is_(True))).all()
        out: dict[int, set[str]] = {}
        for row in rows:
            out.setdefault(row.thread_id, set()).add(row.message_id)
        return sorted(out.values(), key=lambda g: sorted(g))


def sqlite_factory(tmp_path: Path) -> sessionmaker[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'thread.db'}")
    Base.metadata.create_all(engine)
    return make_sessionmaker(engine)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def threader(request: pytest.FixtureRequest, tmp_path: Path) -> Driver:
    if request.param == "memory":
        return Driver("memory", None, 0, Threader())
    if request.param == "sqlite":
        factory = sqlite_factory(tmp_path)
    else:
        factory = make_sessionmaker(request.getfixturevalue("pg_engine"))
    project_id, _ = new_project(factory)
    return Driver(request.param, factory, project_id, Threader())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[sessionmaker[Session], int]:
    """A session factory and a fresh project id, on each backend."""
    if request.param == "sqlite":
        factory = sqlite_factory(tmp_path)
    else:
        factory = make_sessionmaker(request.getfixturevalue("pg_engine"))
    project_id, _ = new_project(factory)
    return factory, project_id
