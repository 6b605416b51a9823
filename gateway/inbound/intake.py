"""Durable intake, shared by every channel: raw bytes flushed and the row committed, then done.

Only after :func:`accept` returns may a channel acknowledge the message (SMTP ``250``, IMAP flag,
import progress). The same mail arriving twice — another channel, a client retry, the same mbox
imported again — is recognised by (Message-ID, content hash) and noted as a further arrival of
the stored message instead of being stored again.

Intake is two steps: :func:`prepare` writes the raw bytes (content-addressed, so writing them
again is harmless) and :func:`record` commits the rows for one or more prepared messages in one
transaction. A small message (``raw_inline_max``, gateway/store/raw.py) is not written by
``prepare`` at all: its bytes go into ``raw_blobs`` in ``record``'s transaction, durable with
its row by the same commit. The SMTP listener batches concurrent sessions' ``record`` calls
into one commit (gateway/inbound/groupcommit.py); everyone else calls :func:`accept`, which does
both for one.
The row is the commit point: a raw file without a row is an orphan that a retry reuses.

Where the listener's committer turned on batch sync (``[smtp] raw_sync = "batch"``), ``prepare``
leaves the bytes unflushed and ``record`` flushes the whole batch with one ``syncfs`` before its
commit; otherwise ``prepare`` fsyncs each file. Either way ``record`` never commits a row whose
raw bytes are not durable.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.audit.batch import append_arrivals
from gateway.audit.state import arrival_state
from gateway.errors import IntakeClosed, RowRefused, StoreError
from gateway.identity import identify
from gateway.store.bulk import BulkInsert, placeholder
from gateway.store.db import HeldConnection, unit_of_work
from gateway.store.models import Arrival, Message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    """A stored message (``duplicate``: it was there already, this was a further arrival)."""

    message_pk: int
    message_id: str
    duplicate: bool


@dataclass
class Prepared:
    """A message whose raw bytes are written (or, ``inline``, held for the row's transaction),
    waiting for its row."""

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
    # Given by a front end in another process (gateway/inbound/writer.py): its project ids and
    # its clock are the ones that count. Else app.project_ids and app.clock() at the commit.
    project_id: int | None = None
    received_at: datetime | None = None
    # The raw bytes themselves when they are kept inline: record() stores them with the row.
    inline: bytes | None = field(default=None, repr=False)


def prepare(app: App, *, project: str, raw: bytes, channel: str, peer: str = "",
            envelope_from: str = "", envelope_to: Sequence[str] = (), history: bool = False,
            will_enqueue: bool = True, defer_sync: bool | None = None,
            project_id: int | None = None, received_at: datetime | None = None) -> Prepared:
    """Write ``raw`` to the raw store; raise StoreError when the disk fails.

    ``defer_sync``: leave the flush to :func:`record`'s batch; by default, when the raw store's
    batch sync is on (the SMTP committer's choice), else the file is fsynced here.
    """
    identity = identify(raw)
    inline = app.raw.inline(len(raw))
    deferred = app.raw.batch_sync if defer_sync is None else defer_sync
    if inline:  # durable with its row, in record()'s commit
        digest, deferred = hashlib.sha256(raw).hexdigest(), False
    else:
        digest = app.raw.put(raw, defer_sync=deferred)
    return Prepared(project=project, message_id=identity.message_id,
                    synthetic=identity.synthetic, content_hash=identity.content_hash,
                    sha256=digest, size=len(raw), history=history, will_enqueue=will_enqueue,
                    arrival={"channel": channel, "peer": peer[:255],
                             "envelope_from": envelope_from[:320],
                             "envelope_to": list(envelope_to)},
                    durable=not deferred, project_id=project_id, received_at=received_at,
                    inline=raw if inline else None)


Outcome = Accepted | IntakeClosed


def record(app: App, items: Sequence[Prepared], *,
           held: HeldConnection | None = None) -> list[Outcome]:
    """Commit rows for ``items`` in one transaction; per item an Accepted or IntakeClosed.

    Raises StoreError when the database is unavailable (nothing was committed). A unique-key race
    with another writer rolls the batch back and records the items one by one. Items whose raw
    bytes are not yet durable are flushed first (one ``syncfs`` for the batch); when that fails,
    StoreError is raised and no row is written (the rows are written while the flush runs, in the
    same transaction, and committed only after it succeeded). ``held``: the caller's connection
    (see :class:`gateway.store.db.HeldConnection`), else one from the pool.
    """
    pending = [item for item in items if not item.durable]
    # The flush runs while the rows are written; the commit waits for it.
    flushing = app.raw.sync_in_background([item.sha256 for item in pending]) if pending else None
    try:
        with held.transaction() if held is not None else app.engine.begin() as conn:
            try:
                outcomes = _record_in(conn, app, items)
            finally:
                if flushing is not None:
                    flushing.result()  # StoreError: rolled back, no row of the batch stored
                    for item in pending:
                        item.durable = True
            return outcomes
    except IntegrityError:
        if len(items) == 1:  # another writer stored the same message between look-up and insert
            return [_note_race(app, items[0])]
        return [outcome for item in items for outcome in record(app, [item], held=held)]
    except StoreError:
        raise
    except (OperationalError, InterfaceError) as exc:  # down, locked, disk full: retry later
        raise StoreError(f"database unavailable: {type(exc).__name__}") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreError(f"database unavailable: {type(exc).__name__}") from exc
        raise RowRefused(f"database refused the rows: {type(exc).__name__}") from exc
    except Exception as exc:  # a value the driver cannot send (e.g. a lone surrogate)
        raise RowRefused(f"database refused the rows: {type(exc).__name__}") from exc


_MESSAGES: Table = Message.__table__  # type: ignore[assignment]
_ARRIVALS: Table = Arrival.__table__  # type: ignore[assignment]
# One INSERT … RETURNING per table and batch (gateway/store/bulk.py), made per dialect. The
# rows come back in no promised order, so each names its identity.
_inserts: dict[str, tuple[BulkInsert, BulkInsert]] = {}


def _bulk(dialect: Dialect) -> tuple[BulkInsert, BulkInsert]:
    made = _inserts.get(dialect.name)
    if made is None:
        made = _inserts[dialect.name] = (
            BulkInsert(_MESSAGES, dialect,
                       returning=("id", "project_id", "message_id", "content_hash")),
            BulkInsert(_ARRIVALS, dialect))
    return made


def _record_in(conn: Connection, app: App, items: Sequence[Prepared]) -> list[Outcome]:
    """Two look-ups and two multi-row inserts per batch (and per project the audit chain's three
    statements), as plain SQL: on the listener's hot path SQLAlchemy's statement machinery cost
    more than SQLite's work.

    The duplicate look-up names project_id first: (project_id, message_id) is the unique index's
    prefix. On message_id alone it would scan the whole index, a cost that grows with every
    message ever stored."""
    Key = tuple[int, str, str]
    now = app.clock()
    keys: list[Key] = [(app.project_ids[i.project] if i.project_id is None else i.project_id,
                        i.message_id, i.content_hash) for i in items]
    project_ids = sorted({key[0] for key in keys})
    message_ids = sorted({key[1] for key in keys})
    mark = placeholder(conn.dialect)
    pmarks = ", ".join([mark] * len(project_ids))
    mmarks = ", ".join([mark] * len(message_ids))
    open_projects = {row[0] for row in conn.exec_driver_sql(
        f"SELECT id FROM projects WHERE intake_open AND id IN ({pmarks})", tuple(project_ids))}
    stored: dict[Key, int] = {
        (project_id, message_id, content_hash): pk
        for pk, project_id, message_id, content_hash in conn.exec_driver_sql(
            "SELECT id, project_id, message_id, content_hash FROM messages "
            f"WHERE project_id IN ({pmarks}) AND message_id IN ({mmarks})",
            (*project_ids, *message_ids))}
    rows: dict[Key, dict[str, Any]] = {}
    item_channel: dict[Key, str] = {}
    for key, item in zip(keys, items, strict=True):
        if key[0] in open_projects and key not in stored and key not in rows:
            item_channel[key] = item.arrival["channel"]
            rows[key] = {"project_id": key[0], "message_id": item.message_id,
                         "message_id_synthetic": item.synthetic, "sha256": item.sha256,
                         "content_hash": item.content_hash, "size": item.size,
                         "history": item.history, "received_at": item.received_at or now,
                         "enqueued_at": (item.received_at or now) if item.will_enqueue
                         else None}
    insert_messages, insert_arrivals = _bulk(conn.dialect)
    new: dict[Key, int] = {(project_id, message_id, content_hash): pk
                           for pk, project_id, message_id, content_hash
                           in insert_messages.execute(conn, list(rows.values()))}
    blobs = {item.sha256: item.inline for key, item in zip(keys, items, strict=True)
             if item.inline is not None and key in rows}
    if blobs:  # content-addressed: bytes stored before (another project, a retry) stay as they are
        conn.exec_driver_sql(
            f"INSERT INTO raw_blobs (sha256, data) VALUES "
            f"{', '.join([f'({mark}, {mark})'] * len(blobs))} ON CONFLICT (sha256) DO NOTHING",
            tuple(value for pair in blobs.items() for value in pair))
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
        arrivals.append({"message_pk": pk, "received_at": item.received_at or now,
                         **item.arrival})
        if duplicate:
            log.info("<%s> again via %s: noted as a further arrival of message %d",
                     item.message_id, item.arrival["channel"], pk)
        else:
            log.info("<%s> stored as message %d via %s (%d bytes)", item.message_id, pk,
                     item.arrival["channel"], item.size)
        outcomes.append(Accepted(pk, item.message_id, duplicate))
    insert_arrivals.execute(conn, arrivals)
    # Each new message's arrival, with its SHA-256, in the hash chain (last: the chain head stays
    # locked only until the commit): `audit verify` then names a message row deleted, added or
    # rewritten outside the gateway.
    append_arrivals(conn, [
        (key[0], new[key], arrival_state(row["sha256"], row["message_id"], row["size"]),
         {"channel": item_channel[key]}) for key, row in rows.items()], now=now)
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
        project_id = app.project_ids[item.project] if item.project_id is None else item.project_id
        existing = _find(session, project_id, item.message_id, item.content_hash)
        if existing is None:
            raise StoreError("message vanished while being stored")
        session.add(Arrival(message_pk=existing.id, received_at=item.received_at or app.clock(),
                            **item.arrival))
        return Accepted(existing.id, item.message_id, True)
