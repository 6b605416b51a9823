"""Durable intake, shared by every channel: raw bytes flushed and the row committed, then done.

Only after :func:`accept` returns may a channel acknowledge the message (SMTP ``250``, IMAP flag,
import progress). The same mail arriving twice — another channel, a client retry, the same mbox
imported again — is recognised by (Message-ID, content hash) and noted as a further arrival of
the stored message instead of being stored again.

Intake is two steps: :func:`prepare` writes the raw bytes (content-addressed, so writing them
again is harmless) and :func:`record` commits the rows for one or more prepared messages in one
transaction. The SMTP listener batches concurrent sessions' ``record`` calls into one commit
(gateway/inbound/groupcommit.py); everyone else calls :func:`accept`, which does both for one.
The row is the commit point: a raw file without a row is an orphan that a retry reuses.

Where the listener's committer turned on batch sync (``[smtp] raw_sync = "batch"``), ``prepare``
leaves the bytes unflushed and ``record`` flushes the whole batch with one ``syncfs`` before its
commit; otherwise ``prepare`` fsyncs each file. Either way ``record`` never commits a row whose
raw bytes are not durable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.errors import IntakeClosed, StoreError
from gateway.identity import identify
from gateway.store.db import unit_of_work
from gateway.store.models import Arrival, Message, Project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    message_pk: int
    message_id: str
    duplicate: bool


@dataclass
class Prepared:
    """A message whose raw bytes are durable, waiting for its row."""

    project: str
    message_id: str
    synthetic: bool
    content_hash: str
    sha256: str
    size: int
    history: bool
    will_enqueue: bool
    arrival: dict[str, Any] = field(default_factory=dict)
    durable: bool = True  # False: written but not flushed; record() syncs it before the commit


def prepare(app: App, *, project: str, raw: bytes, channel: str, peer: str = "",
            envelope_from: str = "", envelope_to: Sequence[str] = (), history: bool = False,
            will_enqueue: bool = True, defer_sync: bool | None = None) -> Prepared:
    """Write ``raw`` to the raw store; raise StoreError when the disk fails.

    ``defer_sync``: leave the flush to :func:`record`'s batch; by default, when the raw store's
    batch sync is on (the SMTP committer's choice), else the file is fsynced here.
    """
    identity = identify(raw)
    deferred = app.raw.batch_sync if defer_sync is None else defer_sync
    digest = app.raw.put(raw, defer_sync=deferred)
    return Prepared(project=project, message_id=identity.message_id,
                    synthetic=identity.synthetic, content_hash=identity.content_hash,
                    sha256=digest, size=len(raw), history=history, will_enqueue=will_enqueue,
                    arrival={"channel": channel, "peer": peer[:255],
                             "envelope_from": envelope_from[:320],
                             "envelope_to": list(envelope_to)},
                    durable=not deferred)


Outcome = Accepted | IntakeClosed


def record(app: App, items: Sequence[Prepared]) -> list[Outcome]:
    """Commit rows for ``items`` in one transaction; per item an Accepted or IntakeClosed.

    Raises StoreError when the database is unavailable (nothing was committed). A unique-key race
    with another writer rolls the batch back and records the items one by one. Items whose raw
    bytes are not yet durable are flushed first (one ``syncfs`` for the batch); when that fails,
    StoreError is raised and no row is written.
    """
    pending = [item for item in items if not item.durable]
    if pending:
        app.raw.sync(item.sha256 for item in pending)
        for item in pending:
            item.durable = True
    try:
        with app.engine.begin() as conn:
            return _record_in(conn, app, items)
    except IntegrityError:
        if len(items) == 1:  # another writer stored the same message between look-up and insert
            return [_note_race(app, items[0])]
        return [outcome for item in items for outcome in record(app, [item])]
    except StoreError:
        raise
    except Exception as exc:  # the database is down or refused: the sender must retry
        raise StoreError(f"database unavailable: {type(exc).__name__}") from exc


_MESSAGES: Table = Message.__table__  # type: ignore[assignment]
_ARRIVALS: Table = Arrival.__table__  # type: ignore[assignment]
_PROJECTS: Table = Project.__table__  # type: ignore[assignment]
# Built once: building a statement costs more than running it on a small batch.
_OPEN_PROJECTS = select(_PROJECTS.c.id).where(
    _PROJECTS.c.id.in_(bindparam("project_ids", expanding=True)),
    _PROJECTS.c.intake_open.is_(True))
_STORED = select(_MESSAGES.c.id, _MESSAGES.c.project_id, _MESSAGES.c.message_id,
                 _MESSAGES.c.content_hash).where(
    _MESSAGES.c.message_id.in_(bindparam("message_ids", expanding=True)))
# One INSERT … RETURNING for the batch. Rows come back in no promised order (asking for one makes
# SQLite insert row by row), so each names its identity.
_INSERT_MESSAGES = insert(_MESSAGES).returning(_MESSAGES.c.id, _MESSAGES.c.project_id,
                                               _MESSAGES.c.message_id, _MESSAGES.c.content_hash)
_INSERT_ARRIVALS = insert(_ARRIVALS)


def _record_in(conn: Connection, app: App, items: Sequence[Prepared]) -> list[Outcome]:
    """Two look-ups and two multi-row inserts per batch, in SQLAlchemy Core: on the listener's
    hot path the ORM's unit of work would cost more than the SMTP dialogue."""
    Key = tuple[int, str, str]
    now = app.clock()
    keys: list[Key] = [(app.project_ids[i.project], i.message_id, i.content_hash) for i in items]
    open_projects = set(conn.scalars(_OPEN_PROJECTS,
                                     {"project_ids": sorted({key[0] for key in keys})}))
    stored: dict[Key, int] = {
        (row.project_id, row.message_id, row.content_hash): row.id
        for row in conn.execute(_STORED, {"message_ids": sorted({k[1] for k in keys})})}
    rows: dict[Key, dict[str, Any]] = {}
    for key, item in zip(keys, items, strict=True):
        if key[0] in open_projects and key not in stored and key not in rows:
            rows[key] = {"project_id": key[0], "message_id": item.message_id,
                         "message_id_synthetic": item.synthetic, "sha256": item.sha256,
                         "content_hash": item.content_hash, "size": item.size,
                         "history": item.history, "received_at": now,
                         "enqueued_at": now if item.will_enqueue else None}
    new: dict[Key, int] = {}
    if rows:
        new = {(row.project_id, row.message_id, row.content_hash): row.id
               for row in conn.execute(_INSERT_MESSAGES, list(rows.values()))}
    outcomes: list[Outcome] = []
    arrivals: list[dict[str, Any]] = []
    first_of: set[Key] = set()
    for key, item in zip(keys, items, strict=True):
        if key[0] not in open_projects:
            outcomes.append(IntakeClosed(f"project {item.project} is closed and accepts no "
                                         "more mail"))
            continue
        duplicate = key in stored or key in first_of
        pk = stored[key] if key in stored else new[key]
        first_of.add(key)
        arrivals.append({"message_pk": pk, "received_at": now, **item.arrival})
        if duplicate:
            log.info("<%s> again via %s: noted as a further arrival of message %d",
                     item.message_id, item.arrival["channel"], pk)
        else:
            log.info("<%s> stored as message %d via %s (%d bytes)", item.message_id, pk,
                     item.arrival["channel"], item.size)
        outcomes.append(Accepted(pk, item.message_id, duplicate))
    if arrivals:
        conn.execute(_INSERT_ARRIVALS, arrivals)
    return outcomes


def accept(app: App, *, project: str, raw: bytes, channel: str, peer: str = "",
           envelope_from: str = "", envelope_to: Sequence[str] = (),
           history: bool = False, will_enqueue: bool = True) -> Accepted:
    """Store ``raw`` for ``project`` durably; raise StoreError (retry later) or IntakeClosed.

    ``will_enqueue``: the caller sends the processing job right after; without it the message
    waits for the sweep of a running gateway (e.g. a CLI import with no broker).
    """
    item = prepare(app, project=project, raw=raw, channel=channel, peer=peer,
                   envelope_from=envelope_from, envelope_to=envelope_to, history=history,
                   will_enqueue=will_enqueue, defer_sync=False)  # one message: fsync it here
    [outcome] = record(app, [item])
    if isinstance(outcome, IntakeClosed):
        raise outcome
    return outcome


def _find(session: Session, project_id: int, message_id: str,
          content_hash: str) -> Message | None:
    return session.scalars(select(Message).where(
        Message.project_id == project_id, Message.message_id == message_id,
        Message.content_hash == content_hash)).one_or_none()


def _note_race(app: App, item: Prepared) -> Accepted:
    with unit_of_work(app.sessions) as session:
        existing = _find(session, app.project_ids[item.project], item.message_id,
                         item.content_hash)
        if existing is None:
            raise StoreError("message vanished while being stored")
        session.add(Arrival(message_pk=existing.id, **item.arrival))
        return Accepted(existing.id, item.message_id, True)
