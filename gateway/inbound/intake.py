"""Durable intake, shared by every channel: raw bytes fsynced and the row committed, then done.

Only after :func:`accept` returns may a channel acknowledge the message (SMTP ``250``, IMAP flag,
import progress). The same mail arriving twice — another channel, a client retry, the same mbox
imported again — is recognised by (Message-ID, content hash) and noted as a further arrival of
the stored message instead of being stored again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
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


def accept(app: App, *, project: str, raw: bytes, channel: str, peer: str = "",
           envelope_from: str = "", envelope_to: Sequence[str] = (),
           history: bool = False, will_enqueue: bool = True) -> Accepted:
    """Store ``raw`` for ``project`` durably; raise StoreError (retry later) or IntakeClosed.

    ``will_enqueue``: the caller sends the processing job right after; without it the message
    waits for the sweep of a running gateway (e.g. a CLI import with no broker).
    """
    identity = identify(raw)
    digest = app.raw.put(raw)
    arrival: dict[str, Any] = {"channel": channel, "peer": peer[:255],
                               "envelope_from": envelope_from[:320],
                               "envelope_to": list(envelope_to)}
    project_id = app.project_ids[project]
    try:
        with unit_of_work(app.sessions) as session:
            row = session.get(Project, project_id)
            if row is None or not row.intake_open:
                raise IntakeClosed(f"project {project} is closed and accepts no more mail")
            existing = _find(session, project_id, identity.message_id, identity.content_hash)
            if existing is not None:
                session.add(Arrival(message_pk=existing.id, **arrival))
                log.info("<%s> again via %s: noted as a further arrival of message %d",
                         identity.message_id, channel, existing.id)
                return Accepted(existing.id, identity.message_id, True)
            message = Message(project_id=project_id, message_id=identity.message_id,
                              message_id_synthetic=identity.synthetic, sha256=digest,
                              content_hash=identity.content_hash, size=len(raw),
                              history=history, received_at=app.clock(),
                              enqueued_at=app.clock() if will_enqueue else None)
            session.add(message)
            session.flush()
            session.add(Arrival(message_pk=message.id, received_at=app.clock(), **arrival))
            pk = message.id
    except IntegrityError:
        # Another session stored the same message between our look-up and insert.
        return _note_race(app, project_id, identity.message_id, identity.content_hash, arrival)
    except (IntakeClosed, StoreError):
        raise
    except Exception as exc:  # the database is down or refused: the sender must retry
        raise StoreError(f"database unavailable: {type(exc).__name__}") from exc
    log.info("<%s> stored as message %d via %s (%d bytes)", identity.message_id, pk, channel,
             len(raw))
    return Accepted(pk, identity.message_id, False)


def _find(session: Session, project_id: int, message_id: str,
          content_hash: str) -> Message | None:
    return session.scalars(select(Message).where(
        Message.project_id == project_id, Message.message_id == message_id,
        Message.content_hash == content_hash)).one_or_none()


def _note_race(app: App, project_id: int, message_id: str, content_hash: str,
               arrival: dict[str, Any]) -> Accepted:
    with unit_of_work(app.sessions) as session:
        existing = _find(session, project_id, message_id, content_hash)
        if existing is None:
            raise StoreError("message vanished while being stored")
        session.add(Arrival(message_pk=existing.id, **arrival))
        return Accepted(existing.id, message_id, True)
