"""Group commit for the SMTP listener: concurrent sessions share one flush and one commit.

Durable before ``250`` costs flushing the raw file (its data, and its name in the folder) and a
database commit — which SQLite serialises, one WAL fsync each. Flushing and committing each
message on its own puts three disk flushes in series per message, however many clients send.
Here the sessions hand their prepared messages to one committer thread, which takes everything
waiting, makes the batch's raw files durable with one ``syncfs(2)`` (``[smtp] raw_sync =
"batch"``; with ``"file"``, or without syncfs, each intake thread fsyncs its own file), commits
the rows in one transaction and only then wakes each session to answer. Nobody is acknowledged
before their bytes are flushed and their row is committed; a batch whose flush or commit fails
fails all of its sessions with ``451`` and no row of it is stored.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from gateway.app import App
from gateway.errors import StoreError
from gateway.inbound.intake import Outcome, Prepared, record

log = logging.getLogger(__name__)

MAX_BATCH = 128


class GroupCommitter:
    """Commits prepared messages in batches from one thread; :meth:`submit` blocks until done."""

    def __init__(self, app: App) -> None:
        self.app = app
        # Before the first session writes: batch sync reports errors seen since it started.
        if app.settings.gateway.smtp.raw_sync == "batch" and not app.raw.start_batch_sync():
            log.warning("syncfs(2) unavailable here (Linux >= 5.8 needed): raw files are "
                        "fsynced one by one")
        self._queue: queue.SimpleQueue[tuple[Prepared, Future[Outcome]] | None] = \
            queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="commgate-groupcommit",
                                        daemon=True)
        self._thread.start()
        self.batches = 0
        self.committed = 0

    def submit(self, item: Prepared) -> Outcome:
        """Record ``item`` with whatever else is waiting; raise StoreError on failure."""
        done: Future[Outcome] = Future()
        self._queue.put((item, done))
        return done.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():  # never close the descriptor under a running syncfs
            self.app.raw.stop_batch_sync()

    def _run(self) -> None:
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

    def _commit(self, batch: list[tuple[Prepared, Future[Outcome]]]) -> None:
        try:
            outcomes = record(self.app, [item for item, _ in batch])
        except StoreError as exc:
            for _, done in batch:
                done.set_exception(exc)
            return
        except Exception as exc:  # never leave a session waiting forever
            log.exception("group commit failed")
            for _, done in batch:
                done.set_exception(StoreError(f"commit failed: {type(exc).__name__}"))
            return
        self.batches += 1
        self.committed += len(batch)
        for (_, done), outcome in zip(batch, outcomes, strict=True):
            done.set_result(outcome)
