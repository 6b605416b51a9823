"""Group commit for the SMTP listener: concurrent sessions share one flush and one commit.

Durable before ``250`` costs writing the raw file, flushing it (its data, and its name in the
folder) and a database commit — which SQLite serialises, one WAL fsync each. Doing that per
message puts three disk flushes in series per message, however many clients send, and handing
each message to a thread of its own and back costs more CPU than the SMTP dialogue itself.

So the sessions hand their messages to one committer thread. It takes everything waiting, writes
the raw files of the batch, makes them durable with one ``syncfs(2)`` (``[smtp] raw_sync =
"batch"``; with ``"file"``, or without syncfs, each file is fsynced as it is written), commits
the rows in one transaction — with the bytes of the small messages, which have no file
(``raw_inline_max``, gateway/store/raw.py) — and only then wakes the waiting sessions — all of
one event loop's sessions with one call — and queues the processing jobs. Nobody is acknowledged
before their bytes are flushed and their row is committed; a batch whose flush or commit fails
fails all of its sessions with ``451`` and no row of it is stored.

A large message is written by an intake thread before it is handed over (the listener decides,
see gateway/inbound/smtp.py), so hashing and writing ten megabytes never holds up the small
messages batched behind it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from gateway.app import App
from gateway.errors import RowRefused, StoreError
from gateway.inbound.intake import Accepted, Outcome, Prepared, record
from gateway.store.db import HeldConnection

log = logging.getLogger(__name__)

MAX_BATCH = 128

Work = Prepared | Callable[[], Prepared]  # ready, or written by the committer in its batch
Waiter = Future[Outcome] | asyncio.Future[Outcome]


@dataclass
class _Entry:
    work: Work
    waiter: Waiter


class GroupCommitter:
    """Commits messages in batches from one thread.

    :meth:`submit` blocks its caller until done; :meth:`submit_async` returns an asyncio future
    of the caller's event loop. ``on_stored`` is called with the key of each newly stored message
    after its session was answered (the processing job); it must not raise.
    """

    def __init__(self, app: App, on_stored: Callable[[int], object] | None = None) -> None:
        self.app = app
        self.on_stored = on_stored
        # Before the first session writes: batch sync reports errors seen since it started.
        if app.settings.gateway.smtp.raw_sync == "batch" and not app.raw.start_batch_sync():
            log.warning("syncfs(2) unavailable here (Linux >= 5.8 needed): raw files are "
                        "fsynced one by one")
        self._held = HeldConnection(app)  # used by the committer thread only
        self._queue: queue.SimpleQueue[_Entry | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="commgate-groupcommit",
                                        daemon=True)
        self._thread.start()
        self.batches = 0
        self.committed = 0

    def submit(self, work: Work) -> Outcome:
        """Record ``work`` with whatever else is waiting; raise StoreError on failure."""
        done: Future[Outcome] = Future()
        self._queue.put(_Entry(work, done))
        return done.result()

    def submit_async(self, work: Work) -> asyncio.Future[Outcome]:
        """Like :meth:`submit`, for a coroutine: await the future this returns."""
        done: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.put(_Entry(work, done))
        return done

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():  # never close the descriptor under a running syncfs
            self.app.raw.stop_batch_sync()

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            self._held.close()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[_Entry]) -> None:
        answers = commit_batch(self.app, [entry.work for entry in batch], held=self._held)
        self.batches += 1
        self.committed += len(batch)
        _answer(list(zip(batch, answers, strict=True)))
        if self.on_stored is not None:
            for answer in answers:
                if isinstance(answer, Accepted) and not answer.duplicate:
                    self.on_stored(answer.message_pk)


def commit_batch(app: App, works: Sequence[Work], *,
                 held: HeldConnection | None = None) -> list[Outcome | StoreError]:
    """Write what is not yet written, flush, commit: per work its outcome or the StoreError.

    A file that cannot be written fails its own message only; a failed flush or commit fails
    every message of the batch, and then no row of it is stored — unless the database refused
    the rows themselves (:class:`RowRefused`: a value it cannot store), when each message is
    committed alone and only the one at fault fails.
    """
    answers: list[Outcome | StoreError | None] = [None] * len(works)
    ready: list[tuple[int, Prepared]] = []
    for i, work in enumerate(works):
        try:
            ready.append((i, work if isinstance(work, Prepared) else work()))
        except StoreError as exc:  # this file could not be written: this message only
            answers[i] = exc
        except Exception as exc:  # never leave a session waiting forever
            log.exception("writing a raw message failed")
            answers[i] = StoreError(f"write failed: {type(exc).__name__}")
    if ready:
        try:
            outcomes: list[Outcome | StoreError] = list(
                record(app, [item for _, item in ready], held=held))
        except RowRefused as exc:  # one message's values: the others must not fail with it
            outcomes = ([exc] if len(ready) == 1 else
                        [_alone(app, item, held) for _, item in ready])
        except StoreError as exc:
            outcomes = [exc] * len(ready)
        except Exception as exc:
            log.exception("group commit failed")
            outcomes = [StoreError(f"commit failed: {type(exc).__name__}")] * len(ready)
        for (i, _), outcome in zip(ready, outcomes, strict=True):
            answers[i] = outcome
    return [answer for answer in answers if answer is not None]


def _alone(app: App, item: Prepared, held: HeldConnection | None) -> Outcome | StoreError:
    """Commit one message of a refused batch by itself: its own outcome or its error."""
    try:
        [outcome] = record(app, [item], held=held)
    except StoreError as exc:
        if isinstance(exc, RowRefused):
            log.warning("<%s> refused by the database: %s", item.message_id, exc)
        return exc
    return outcome


def _answer(answers: list[tuple[_Entry, Outcome | BaseException]]) -> None:
    """Wake the waiting sessions: one call into each event loop, not one per session."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Outcome],
                                                        Outcome | BaseException]]] = {}
    for entry, answer in answers:
        waiter = entry.waiter
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, answer))
        elif isinstance(answer, BaseException):
            waiter.set_exception(answer)
        else:
            waiter.set_result(answer)
    for loop, pairs in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, pairs)
        except RuntimeError:  # the loop was closed: its sessions are gone
            log.warning("%d session(s) ended before their messages were committed; the "
                        "messages are stored", len(pairs))


def _settle(pairs: list[tuple[asyncio.Future[Outcome], Outcome | BaseException]]) -> None:
    for waiter, answer in pairs:
        if waiter.done():  # the session was cancelled (client gone); the message is stored
            continue
        if isinstance(answer, BaseException):
            waiter.set_exception(answer)
        else:
            waiter.set_result(answer)
