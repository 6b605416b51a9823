"""Threading stage, SQL adapter: applies :mod:`gateway.thread.evidence`'s rules to ``thread_refs``.

Incremental JWZ (RFC 5256 REFERENCES): every Message-ID a message is or references is one row
of ``thread_refs`` (a container; ``seen = False`` for phantoms), unique per project. A message
is threaded by looking up its containers, never by rethreading the project.

The caller owns the transaction: nothing here commits. Concurrency (docs/threading.md):

* :func:`_serialize` first takes a per-project lock — ``pg_advisory_xact_lock`` on PostgreSQL,
  SQLite's write lock on SQLite — so two workers threading one project run one after the other
  until the caller commits (threading is milliseconds: keep that transaction short);
* containers are written with one ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` in sorted
  order. The returned rows carry the thread each container really belongs to, so a container
  claimed by another transaction in the meantime merges the threads instead of splitting the
  conversation. Either mechanism alone keeps one thread per conversation; together they also
  make the subject and record-code fall-backs race-free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.identity import normalize_message_id
from gateway.store.models import Message, Thread, ThreadRef, utcnow
from gateway.thread.evidence import (
    SUBJECT_WINDOW,
    ThreadAssignment,
    ThreadEvidence,
    Via,
    activity,
    links,
    subject_candidate,
    subject_may_join,
)

log = logging.getLogger(__name__)

_LOCK_CLASS = 0x54485244  # "THRD": the advisory-lock namespace of threading
_PG_LOCK = text("SELECT pg_advisory_xact_lock(CAST(:c AS integer), CAST(:p AS integer))")
_SQLITE_LOCK = text("UPDATE threads SET subject_key = subject_key WHERE id < 0")
# Statements built once: building them costs more than running them on SQLite.
_HOPS = select(Thread.id, Thread.merged_into).where(Thread.id.in_(bindparam("ids", expanding=True)))
_REFS = select(ThreadRef.message_id, ThreadRef.thread_id, ThreadRef.parent_id, ThreadRef.seen
               ).where(ThreadRef.project_id == bindparam("project"),
                       ThreadRef.message_id.in_(bindparam("ids", expanding=True)))
_UPSERTS: dict[str, Any] = {}


def _serialize(session: Session, project_id: int) -> None:
    """Hold the project's threading lock until the caller's transaction ends."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(_PG_LOCK, {"c": _LOCK_CLASS, "p": project_id & 0x7FFFFFFF})
    elif dialect == "sqlite":
        # A write statement, even one touching no row, makes pysqlite BEGIN and SQLite take
        # the database write lock; reads after it cannot be stale.
        session.execute(_SQLITE_LOCK)


def _canonical(session: Session, ids: Iterable[int]) -> dict[int, int]:
    """Each thread id → the live thread it was merged into (itself when live)."""
    out: dict[int, int] = {}
    pending = set(ids)
    hops: dict[int, int | None] = {}
    while pending:
        rows = session.execute(_HOPS, {"ids": list(pending)}).all()
        hops.update({row.id: row.merged_into for row in rows})
        pending = {m for row in rows if (m := row.merged_into) is not None and m not in hops}
    for start in hops:
        seen, current = {start}, start
        while (nxt := hops.get(current)) is not None and nxt not in seen:
            seen.add(nxt)
            current = nxt
        out[start] = current
    return out


def _refs(session: Session, project_id: int,
          ids: list[str]) -> dict[str, tuple[int, str | None, bool]]:
    """Known containers among ``ids``: (thread, parent, seen)."""
    rows = session.execute(_REFS, {"project": project_id, "ids": ids}).all()
    return {row.message_id: (row.thread_id, row.parent_id, row.seen) for row in rows}


def _changes(chain: list[tuple[str, str | None, bool]],
             known: dict[str, tuple[int, str | None, bool]]) -> list[tuple[str, str | None, bool]]:
    """The containers this message creates or changes; unchanged ones are not written."""
    out = []
    for mid, parent, seen in chain:
        old = known.get(mid)
        if (old is None or (seen and (not old[2] or old[1] != parent))
                or (old[1] is None and parent is not None)):
            out.append((mid, parent, seen))
    return out


def _by_subject(session: Session, project_id: int, ev: ThreadEvidence, now: datetime) -> int | None:
    if not subject_candidate(ev):
        return None
    row = session.execute(
        select(Thread.id, Thread.updated_at)
        .where(Thread.project_id == project_id, Thread.subject_key == ev.subject_key,
               Thread.merged_into.is_(None))
        .order_by(Thread.updated_at.desc(), Thread.id.desc()).limit(1)).first()
    if row is not None and subject_may_join(ev, last_activity=row.updated_at, now=now,
                                            window=SUBJECT_WINDOW):
        return int(row.id)
    return None


def _upsert(session: Session, project_id: int, thread_id: int,
            rows: list[tuple[str, str | None, bool]]) -> dict[str, int]:
    """Write containers (JWZ 1A–1C); return the thread each one actually belongs to."""
    if not rows:
        return {}
    dialect = session.get_bind().dialect.name
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        table = ThreadRef.__table__
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(table)
        excluded, ref = stmt.excluded, table.c
        stmt = _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=[ref.project_id, ref.message_id],
            set_={
                "seen": or_(ref.seen, excluded.seen),
                # JWZ: the message's own References name its parent; a phantom keeps its first.
                "parent_id": case((excluded.seen, excluded.parent_id),
                                  else_=func.coalesce(ref.parent_id, excluded.parent_id)),
            },
        ).returning(ref.message_id, ref.thread_id)
    # Sorted, so concurrent writers lock rows in one order (no deadlock between them).
    values = [{"project_id": project_id, "message_id": mid, "thread_id": thread_id,
               "parent_id": parent, "seen": seen} for mid, parent, seen in sorted(rows)]
    return {row.message_id: row.thread_id for row in session.execute(stmt, values)}


def _move(session: Session, project_id: int, source: int, target: int) -> None:
    session.execute(update(ThreadRef).where(ThreadRef.project_id == project_id,
                                            ThreadRef.thread_id == source)
                    .values(thread_id=target))
    session.execute(update(Message).where(Message.project_id == project_id,
                                          Message.thread_id == source)
                    .values(thread_id=target))


def _live(session: Session, project_id: int, thread_id: int) -> Thread:
    thread = session.get(Thread, thread_id)
    if thread is None or thread.project_id != project_id or thread.merged_into is not None:
        raise ValueError(f"thread {thread_id} is not a live thread of project {project_id}")
    return thread


def merge_threads(session: Session, *, project_id: int, keep: int, absorb: int) -> None:
    """Move every container and message of ``absorb`` into ``keep``; ``absorb`` keeps a
    ``merged_into`` pointer (records are not touched: the record stage merges its own)."""
    if keep == absorb:
        raise ValueError("a thread cannot absorb itself")
    kept, gone = _live(session, project_id, keep), _live(session, project_id, absorb)
    _move(session, project_id, absorb, keep)
    session.execute(update(Thread).where(Thread.merged_into == absorb)
                    .values(merged_into=keep))
    gone.merged_into = keep
    kept.updated_at = max(kept.updated_at, gone.updated_at)
    session.flush()
    log.info("thread %s absorbed into %s (project %s)", absorb, keep, project_id)


def split_thread(session: Session, *, project_id: int, message_ids: list[str],
                 now: datetime | None = None) -> int:
    """Move the named containers (and their messages) to a new thread; return its id.

    A later message whose References name both halves merges them again: that is evidence.
    """
    ids = sorted({normalize_message_id(mid) for mid in message_ids})
    found = _refs(session, project_id, ids)
    if not ids or set(found) != set(ids):
        raise ValueError(f"unknown Message-IDs: {sorted(set(ids) - set(found))}")
    sources = set(_canonical(session, {ref[0] for ref in found.values()}).values())
    if len(sources) != 1:
        raise ValueError("the messages to split off belong to more than one thread")
    source = _live(session, project_id, sources.pop())
    now = now or utcnow()
    new = Thread(project_id=project_id, subject_key=source.subject_key, created_at=now,
                 updated_at=source.updated_at)
    session.add(new)
    session.flush()
    session.execute(update(ThreadRef).where(ThreadRef.project_id == project_id,
                                            ThreadRef.message_id.in_(ids))
                    .values(thread_id=new.id))
    session.execute(update(Message).where(Message.project_id == project_id,
                                          Message.message_id.in_(ids))
                    .values(thread_id=new.id))
    return new.id


def assign_thread(session: Session, *, project_id: int, evidence: ThreadEvidence, now: datetime,
                  record_thread: Callable[[int], int | None] | None = None) -> ThreadAssignment:
    """Thread one message (incremental JWZ, then the fall-backs); never commits.

    ``record_thread`` maps a record code (``[demo#R42]`` → 42) to that record's thread id; it
    is consulted only when no header evidence matched. Stored ``messages`` rows carrying this
    Message-ID get their ``thread_id`` set. Safe to run twice for the same message.
    """
    _serialize(session, project_id)
    chain = links(evidence)
    chain_ids = [mid for mid, _, _ in chain]
    pseudo = evidence.thread_index_ref
    known = _refs(session, project_id, chain_ids + ([pseudo] if pseudo else []))
    canon = _canonical(session, {ref[0] for ref in known.values()})
    found = {canon[known[mid][0]] for mid in chain_ids if mid in known}
    via: Via = "references"
    if not found and pseudo in known:
        found, via = {canon[known[pseudo][0]]}, "thread-index"
    if not found and evidence.record_code is not None and record_thread is not None:
        target = record_thread(evidence.record_code)
        if target is not None:
            found, via = set(_canonical(session, [target]).values()), "record-code"
    if not found and (target := _by_subject(session, project_id, evidence, now)) is not None:
        found, via = {target}, "subject"
    created: Thread | None = None
    if not found:
        created = Thread(project_id=project_id, subject_key=evidence.subject_key,
                         created_at=now, updated_at=activity(evidence, now))
        session.add(created)
        session.flush()
        found, via = {created.id}, "new"
    keep = min(found)
    rows = _changes(chain, known)
    if pseudo and pseudo not in known:
        rows.append((pseudo, None, False))
    actual = _upsert(session, project_id, keep, rows)
    # Containers another transaction claimed first are evidence too (pseudo ones only when
    # they were this message's evidence): fold their threads in.
    evidence_ids = chain_ids + ([pseudo] if via == "thread-index" and pseudo else [])
    claimed = {actual[mid] for mid in evidence_ids if mid in actual} - found
    if claimed:
        found |= set(_canonical(session, claimed).values())
    survivors = found - {created.id} if created is not None and len(found) > 1 else found
    keep = min(survivors)
    merged = sorted(survivors - {keep})
    for absorbed in merged:
        merge_threads(session, project_id=project_id, keep=keep, absorb=absorbed)
    if created is not None and created.id != keep:  # lost a race: drop our unseen thread
        _move(session, project_id, created.id, keep)
        session.delete(created)
        created = None
    thread = _live(session, project_id, keep)
    thread.updated_at = max(thread.updated_at, activity(evidence, now))
    session.execute(update(Message).where(Message.project_id == project_id,
                                          Message.message_id == evidence.message_id)
                    .values(thread_id=keep))
    session.flush()
    log.debug("%s → thread %s via %s", evidence.message_id, keep, via)
    return ThreadAssignment(keep, merged, created is not None, via)
