"""The intake writer's own process (started by gateway/inbound/writer.py), and the frames both
ends exchange over their socket pair.

A frame is a 4-byte length and a pickle (both ends are this program). The front end sends
``(seq, request)`` frames; :func:`writer_main` reads everything sent so far as one batch, stores
and commits it (gateway/inbound/groupcommit.py), and answers the batch in one frame of
``(seq, reply)`` pairs. It ignores SIGINT and SIGTERM and stops when the front end closes the
socket, after answering everything it was sent.
"""

from __future__ import annotations

import logging
import pickle
import signal
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from gateway.app import build_app
from gateway.config.settings import Settings
from gateway.errors import IntakeClosed
from gateway.inbound.groupcommit import commit_batch
from gateway.inbound.intake import Accepted, Prepared, prepare
from gateway.observe.logs import setup_logging
from gateway.store.db import HeldConnection

log = logging.getLogger(__name__)

LENGTH = 4


@dataclass(frozen=True)
class WriteRequest:
    """One message for one project, as the front end received it."""

    project: str
    project_id: int
    raw: bytes
    channel: str
    peer: str
    envelope_from: str
    envelope_to: list[str]
    received_at: datetime


# Replies travel as plain tuples: ("ok", pk, message_id, duplicate) | ("closed", text) |
# ("error", text) — exceptions with keyword arguments do not survive pickling.
Reply = tuple[Any, ...]


def frame(obj: object) -> bytes:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return len(payload).to_bytes(LENGTH, "big") + payload


def writer_main(settings: Settings, sock: socket.socket, log_debug: bool | None) -> None:
    """The writer process: store each batch the front end sends, answer, until the socket ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the front end decides when we stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if log_debug is not None:
        setup_logging(settings.gateway, debug=log_debug)

    sock.setblocking(True)
    try:
        app = build_app(settings, migrate=False)
    except Exception as exc:
        log.exception("intake writer: cannot open the store")
        sock.sendall(frame(("failed", f"{type(exc).__name__}: {exc}")))
        return

    if settings.gateway.smtp.raw_sync == "batch" and not app.raw.start_batch_sync():
        log.warning("syncfs(2) unavailable here (Linux >= 5.8 needed): raw files are "
                    "fsynced one by one")
    sock.sendall(frame(("ready",)))
    held = HeldConnection(app)
    try:
        for batch in _batches(sock):
            works = [req if isinstance(req, Prepared) else
                     partial(prepare, app, project=req.project, project_id=req.project_id,
                             raw=req.raw, channel=req.channel, peer=req.peer,
                             envelope_from=req.envelope_from, envelope_to=req.envelope_to,
                             received_at=req.received_at) for _, req in batch]
            replies: list[tuple[int, Reply]] = []
            answers = commit_batch(app, works, held=held)
            for (seq, _), answer in zip(batch, answers, strict=True):
                if isinstance(answer, Accepted):
                    replies.append((seq, ("ok", answer.message_pk, answer.message_id,
                                          answer.duplicate)))
                elif isinstance(answer, IntakeClosed):
                    replies.append((seq, ("closed", answer.message)))
                else:
                    replies.append((seq, ("error", str(answer))))
            sock.sendall(frame(replies))
    except (ConnectionError, EOFError):
        pass  # the front end is gone: whatever was committed stays committed
    finally:
        held.close()
        app.raw.stop_batch_sync()
        app.close()
        sock.close()


def _batches(sock: socket.socket) -> Iterator[list[tuple[int, WriteRequest | Prepared]]]:
    """Everything the front end has sent so far, as one batch; ends when the socket does."""
    buf = bytearray()
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            return
        buf += chunk
        batch: list[tuple[int, WriteRequest | Prepared]] = []
        while len(buf) >= LENGTH:
            size = int.from_bytes(buf[:LENGTH], "big")
            if len(buf) < LENGTH + size:
                if not batch:  # a large message still arriving: read the rest of it
                    buf += recv_exactly(sock, LENGTH + size - len(buf))
                    continue
                break
            batch.append(pickle.loads(buf[LENGTH:LENGTH + size]))
            del buf[:LENGTH + size]
        if batch:
            yield batch


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    parts = bytearray()
    while len(parts) < size:
        chunk = sock.recv(min(size - len(parts), 1 << 24))
        if not chunk:
            raise EOFError("the front end closed the socket mid-frame")
        parts += chunk
    return bytes(parts)


def read_frame(sock: socket.socket) -> Any:
    size = int.from_bytes(recv_exactly(sock, LENGTH), "big")
    return pickle.loads(recv_exactly(sock, size))

