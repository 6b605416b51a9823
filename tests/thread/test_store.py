"""The SQL adapter's own duties: phantoms and moves in the tables, merge and split, and the
caller's transaction left alone."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.db import unit_of_work
from gateway.store.models import Message, Thread, ThreadRef
from gateway.thread.assign import assign_thread, merge_threads, split_thread
from gateway.thread.evidence import Threader, ThreadEvidence
from tests.thread.mail import T0, mid, msg

DB = tuple[sessionmaker[Session], int]


def add(factory: sessionmaker[Session], project_id: int, ev: ThreadEvidence) -> int:
    with unit_of_work(factory) as session:
        return assign_thread(session, project_id=project_id, evidence=ev, now=T0).thread_id


def stored(session: Session, project_id: int, name: str) -> Message:
    message = Message(project_id=project_id, message_id=mid(name), sha256="0" * 64,
                      content_hash=name.ljust(64, "0"), size=1)
    session.add(message)
    session.flush()
    return message


def test_containers_record_phantoms_and_parents(db: DB) -> None:
    factory, project = db
    add(factory, project, msg("c", refs="a b"))
    with unit_of_work(factory) as session:
        rows = {r.message_id: (r.parent_id, r.seen) for r in session.scalars(
            select(ThreadRef).where(ThreadRef.project_id == project))}
    assert rows == {mid("a"): (None, False), mid("b"): (mid("a"), False),
                    mid("c"): (mid("b"), True)}


def test_stored_messages_get_their_thread_and_move_on_merge(db: DB) -> None:
    factory, project = db
    with unit_of_work(factory) as session:
        x_row, y_row = stored(session, project, "x").id, stored(session, project, "y").id
    x, y = add(factory, project, msg("x", refs="p1")), add(factory, project, msg("y", refs="p2"))
    add(factory, project, msg("z", refs="p1 p2"))
    with unit_of_work(factory) as session:
        assert session.get(Message, x_row).thread_id == x  # type: ignore[union-attr]
        assert session.get(Message, y_row).thread_id == x  # type: ignore[union-attr]
        absorbed = session.get(Thread, y)
        assert absorbed is not None and absorbed.merged_into == x
        assert session.scalar(select(func.count()).select_from(ThreadRef)
                              .where(ThreadRef.thread_id == y)) == 0


def test_the_adapter_never_commits(db: DB) -> None:
    factory, project = db
    session = factory()
    assign_thread(session, project_id=project, evidence=msg("a"), now=T0)
    session.rollback()
    session.close()
    with unit_of_work(factory) as check:
        assert check.scalar(select(func.count()).select_from(ThreadRef)
                            .where(ThreadRef.project_id == project)) == 0


def test_merge_by_hand_and_its_guards(db: DB) -> None:
    factory, project = db
    a, b, c = (add(factory, project, msg(n)) for n in "abc")
    with unit_of_work(factory) as session:
        merge_threads(session, project_id=project, keep=a, absorb=b)
        merge_threads(session, project_id=project, keep=c, absorb=a)  # b now points to c too
        with pytest.raises(ValueError, match="not a live thread"):
            merge_threads(session, project_id=project, keep=c, absorb=b)
        with pytest.raises(ValueError, match="itself"):
            merge_threads(session, project_id=project, keep=c, absorb=c)
        assert session.get(Thread, b).merged_into == c  # type: ignore[union-attr]
    assert add(factory, project, msg("d", irt="b")) == c


def test_split_moves_messages_to_a_new_thread(db: DB) -> None:
    factory, project = db
    root = add(factory, project, msg("a"))
    for name, parent in (("b", "a"), ("c", "b"), ("d", "a")):
        add(factory, project, msg(name, irt=parent))
    with unit_of_work(factory) as session:
        stored(session, project, "c")
        new = split_thread(session, project_id=project, message_ids=["<b@x>", "c@x"])
        assert new != root
        assert session.scalar(select(Message.thread_id).where(
            Message.message_id == mid("c"))) == new
        with pytest.raises(ValueError, match="unknown"):
            split_thread(session, project_id=project, message_ids=["nope@x"])
    assert add(factory, project, msg("e", irt="c")) == new
    # Evidence that the halves are one conversation merges them again, into the older id
    assert add(factory, project, msg("f", refs="a c")) == root


def test_a_record_thread_that_was_merged_resolves_to_the_keeper(db: DB) -> None:
    factory, project = db
    keep, gone = add(factory, project, msg("a")), add(factory, project, msg("b"))
    add(factory, project, msg("c", refs="a b"))
    with unit_of_work(factory) as session:
        got = assign_thread(session, project_id=project, now=T0,
                            evidence=msg("r", subject="[demo#R1] x"),
                            record_thread={1: gone}.get)
    assert (got.thread_id, got.via) == (keep, "record-code")


@pytest.mark.parametrize("seed", range(3))
def test_sql_and_memory_threaders_group_alike(db: DB, seed: int) -> None:
    # Given a random forest of conversations, some parents never seen, arriving shuffled
    rng = random.Random(seed)
    mail = []
    for n in range(120):
        parents = [f"n{rng.randrange(n)}" for _ in range(rng.randrange(3))] if n else []
        subject = rng.choice(["周报", "回复：周报", "Re: 周报", "status", "回复：status"])
        mail.append(msg(f"n{n}", refs=" ".join(parents), subject=subject,
                        date=T0 + timedelta(days=rng.randrange(40))))
    rng.shuffle(mail)
    visible = [ev for ev in mail if rng.random() > 0.2]
    factory, project = db
    memory = Threader()
    for ev in visible:
        memory.add(ev, now=max(T0, ev.date or T0))
        with unit_of_work(factory) as session:
            assign_thread(session, project_id=project, evidence=ev, now=max(T0, ev.date or T0))
    with unit_of_work(factory) as session:
        rows = session.execute(select(ThreadRef.thread_id, ThreadRef.message_id).where(
            ThreadRef.project_id == project, ThreadRef.seen.is_(True))).all()
    sql: dict[int, set[str]] = {}
    for row in rows:
        sql.setdefault(row.thread_id, set()).add(row.message_id)
    assert sorted(map(sorted, sql.values())) == sorted(map(sorted, memory.groups().values()))
