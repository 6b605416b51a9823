"""Two workers threading one conversation at once must end with one live thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.db import unit_of_work
from gateway.store.models import Thread, ThreadRef
from gateway.thread import assign as adapter
from gateway.thread.evidence import ThreadEvidence
from tests.thread.mail import T0, msg

DB = tuple[sessionmaker[Session], int]
WORKERS = 6


def race(factory: sessionmaker[Session], project: int, mail: list[ThreadEvidence]) -> None:
    """Each worker threads one message; they all start at the same instant."""
    barrier = threading.Barrier(len(mail))
    errors: list[BaseException] = []

    def work(ev: ThreadEvidence) -> None:
        try:
            barrier.wait()
            with unit_of_work(factory) as session:
                adapter.assign_thread(session, project_id=project, evidence=ev, now=T0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(ev,)) for ev in mail]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors, errors


def live_threads(factory: sessionmaker[Session], project: int) -> set[int]:
    with unit_of_work(factory) as session:
        ids = set(session.scalars(select(ThreadRef.thread_id).where(
            ThreadRef.project_id == project, ThreadRef.seen.is_(True))))
        for thread_id in ids:
            thread = session.get(Thread, thread_id)
            assert thread is not None and thread.merged_into is None
        return ids


CONVERSATIONS: dict[str, Callable[[], list[ThreadEvidence]]] = {
    # siblings that share only a parent nobody has seen
    "phantom-parent": lambda: [msg(f"s{i}", refs="root") for i in range(WORKERS)],
    # a chain delivered all at once, in no particular order
    "chain": lambda: [msg(f"c{i}", refs=" ".join(f"c{j}" for j in range(i))) for i in
                      range(WORKERS)],
    # QQ Mail replies with nothing but the subject, after the original
    "subject": lambda: [msg(f"q{i}", subject="回复：周报") for i in range(WORKERS)],
}


@pytest.mark.parametrize("shape", ["phantom-parent", "chain"])
@pytest.mark.parametrize("locked", [True, False], ids=["locked", "upsert-only"])
def test_concurrent_workers_build_one_thread(db: DB, shape: str, locked: bool,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    factory, project = db
    if not locked:  # prove the ON CONFLICT re-check alone also converges
        monkeypatch.setattr(adapter, "_serialize", lambda session, project_id: None)
    race(factory, project, CONVERSATIONS[shape]())
    assert len(live_threads(factory, project)) == 1


def test_concurrent_subject_replies_join_one_thread(db: DB) -> None:
    factory, project = db
    with unit_of_work(factory) as session:
        adapter.assign_thread(session, project_id=project, evidence=msg("w", subject="周报"),
                              now=T0)
    race(factory, project, CONVERSATIONS["subject"]())
    assert len(live_threads(factory, project)) == 1
