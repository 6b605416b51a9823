"""The intake writer process: where the SMTP listener's messages become durable.

Like Postfix's smtpd handing each message to its cleanup daemon, the listener (the front end)
only speaks SMTP; a child process of ``commgate serve`` stores each batch — small messages'
bytes inline in the rows' transaction, larger ones as raw files flushed with one ``syncfs(2)``
first (gateway/store/raw.py) — commits the rows in one transaction and answers. The front end
then replies ``250`` (or ``451`` when the writer could not store it). Both are busy Python, and
in one process they would share one core and hand the interpreter lock back and forth on every
system call; as two processes they use two cores and meet once per batch. ``[smtp] writer =
"thread"`` keeps the writer in the listener's process instead (gateway/inbound/groupcommit.py),
with the same batch logic.

The two talk over a socket pair: each frame is a 4-byte length and a pickle (both ends are this
program). The front end sends ``(seq, request)``, the frames of one event-loop turn in one
write; the writer answers each batch in one frame of ``(seq, reply)`` pairs. The front end's
clock and project ids are sent along, so the writer needs only the database and the raw store
from the settings. A large message is written and flushed by the front end (in a thread) and
only its rows are left to the writer, so hashing and writing megabytes never holds up the small
messages in the writer's batches.

The writer ignores SIGINT and SIGTERM, which reach the whole process group: it stops when the
front end closes its end of the socket, after answering everything it was sent — so a
shutdown first lets the sessions finish. If the front end dies, the writer sees the socket close
and stops the same way. If the writer dies, the sessions waiting on it are answered ``451``
(their clients retry; a message stored just before the crash is then noted as a further
arrival, never stored twice) and the front end starts a new writer.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import pickle
import socket
import threading
import time
from typing import Any

from gateway.config.settings import Settings
from gateway.errors import IntakeClosed, StoreError
from gateway.inbound.intake import Accepted, Prepared
from gateway.inbound.writer_process import (
    LENGTH,
    Reply,
    WriteRequest,
    frame,
    read_frame,
    writer_main,
)

log = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
_RESTART_DELAYS = (0.5, 1, 2, 5, 10, 30)


# --- the front end's side ------------------------------------------------------------------------


class IntakeWriter:
    """Starts and talks to the writer process; :meth:`submit` is called on the event loop."""

    def __init__(self, settings: Settings, *, log_debug: bool | None = None) -> None:
        self.settings = settings
        self.log_debug = log_debug  # None: the writer leaves logging as Python starts it
        self._ctx = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stream: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._outgoing: list[bytes] = []  # frames waiting for the end of this loop turn
        self._seq = itertools.count()
        self._closing = False
        self.restarts = 0

    @property
    def alive(self) -> bool:
        return self._stream is not None and not self._stream.is_closing()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the writer and wait until it is ready; raise StoreError if it cannot start."""
        self._loop = loop
        ours = self._spawn()
        asyncio.run_coroutine_threadsafe(self._attach(ours), loop).result(timeout=30)

    def _spawn(self) -> socket.socket:
        ours, theirs = socket.socketpair()
        process = self._ctx.Process(target=writer_main, name="commgate-writer", daemon=True,
                                    args=(self.settings, theirs, self.log_debug))
        process.start()
        theirs.close()
        try:
            ours.settimeout(READY_TIMEOUT)
            first = read_frame(ours)
        except (OSError, EOFError) as exc:
            _give_up(ours, process)
            raise StoreError(f"the intake writer did not start ({exc or 'it exited'})",
                             hint="see the log lines before this one") from exc
        if first != ("ready",):
            _give_up(ours, process)
            raise StoreError(f"the intake writer did not start: {first[1]}")
        ours.setblocking(False)
        self._process = process
        log.info("intake writer started (pid %d)", process.pid)
        return ours

    async def _attach(self, sock: socket.socket) -> None:
        reader, self._stream = await asyncio.open_unix_connection(sock=sock,
                                                                  limit=2 ** 20)
        self._reader_task = asyncio.get_running_loop().create_task(self._read_replies(reader))

    async def submit(self, request: WriteRequest | Prepared) -> Accepted | IntakeClosed:
        """Have ``request`` stored; raise StoreError when it was not (the client retries).

        A :class:`Prepared` message (a large one, written and flushed by the front end) only
        needs its rows.
        """
        stream = self._stream
        if stream is None or stream.is_closing():
            raise StoreError("the intake writer is not running")
        seq = next(self._seq)
        waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[seq] = waiter
        try:
            # Frames of one turn of the event loop go out in one write (one wake-up of the
            # writer, one batch), sent when the loop has run every session that was ready.
            self._outgoing.append(frame((seq, request)))
            if len(self._outgoing) == 1:
                asyncio.get_running_loop().call_soon(self._send_outgoing)
            await stream.drain()  # only waits while earlier frames fill the socket
            reply = await waiter
        finally:
            self._pending.pop(seq, None)
        kind = reply[0]
        if kind == "ok":
            return Accepted(reply[1], reply[2], reply[3])
        if kind == "closed":
            return IntakeClosed(reply[1])
        raise StoreError(reply[1])

    def _send_outgoing(self) -> None:
        frames, self._outgoing = self._outgoing, []
        stream = self._stream
        if frames and stream is not None and not stream.is_closing():
            stream.write(b"".join(frames))

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(LENGTH), "big")
                replies: list[tuple[int, Reply]] = pickle.loads(await reader.readexactly(size))
                for seq, reply in replies:
                    waiter = self._pending.get(seq)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(reply)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writer_gone()

    def _writer_gone(self) -> None:
        """On the loop: answer everyone still waiting, and start a new writer unless closing."""
        if self._stream is not None:
            self._stream.close()
        self._outgoing.clear()  # their sessions are answered 451 just below
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_result(("error", "the intake writer stopped"))
        if self._closing:
            return
        code = self._process.exitcode if self._process is not None else None
        log.error("the intake writer stopped unexpectedly (exit code %s); starting a new one; "
                  "until then messages are answered 451", code)
        threading.Thread(target=self._restart, name="commgate-writer-restart",
                         daemon=True).start()

    def _restart(self) -> None:
        for attempt in itertools.count():
            if self._closing or self._loop is None:
                return
            time.sleep(_RESTART_DELAYS[min(attempt, len(_RESTART_DELAYS) - 1)])
            try:
                ours = self._spawn()
            except StoreError as exc:
                log.error("%s; trying again", exc)
                continue
            try:
                asyncio.run_coroutine_threadsafe(self._attach(ours), self._loop).result(30)
            except Exception:  # noqa: BLE001 - the loop is gone: we are shutting down
                ours.close()
                return
            self.restarts += 1
            return

    def close(self, timeout: float = 30.0) -> None:
        """Stop the writer after it has answered everything sent to it (not on the loop)."""
        self._closing = True
        loop = self._loop
        if loop is not None and self._stream is not None and not loop.is_closed():
            try:
                asyncio.run_coroutine_threadsafe(self._finish(timeout), loop).result(timeout + 5)
            except Exception:  # noqa: BLE001 - stop the process below in any case
                log.warning("the intake writer did not finish in time")
        process = self._process
        if process is not None:
            process.join(timeout=timeout)
            if process.is_alive():
                log.warning("the intake writer did not stop; killing it")
                process.kill()
                process.join(timeout=5)

    async def _finish(self, timeout: float) -> None:
        stream = self._stream
        if stream is not None and not stream.is_closing() and stream.can_write_eof():
            stream.write_eof()  # the writer answers what it has, then sees the end and exits
        if self._reader_task is not None:
            await asyncio.wait([self._reader_task], timeout=timeout)


def _give_up(sock: socket.socket, process: Any) -> None:
    """A writer that failed to start: close our end, and make sure it is gone."""
    sock.close()
    process.join(timeout=5)
    if process.is_alive():
        process.kill()
        process.join(timeout=5)
