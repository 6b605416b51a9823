"""``commgate serve``: the SMTP/LMTP listener, IMAP pollers, the recovery sweep and (embedded)
the job workers.

Everything async runs on one event loop in a background thread so the same object serves the
CLI (which blocks until a signal) and the tests (which start it on a free port and stop it).
Stopping is graceful: the listener closes, sessions in DATA finish, queued jobs drain, then the
workers stop.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

import dramatiq

from gateway.app import App
from gateway.connectors.outbox import report_unconfigured
from gateway.errors import ConfigError, StoreError
from gateway.inbound.groupcommit import GroupCommitter
from gateway.inbound.imap import ImapPoller, make_pollers
from gateway.inbound.limits import AcceptErrorLog
from gateway.inbound.smtp import make_smtp_factory
from gateway.inbound.writer import IntakeWriter
from gateway.jobs.actors import QUEUE, Jobs, bind, sweep
from gateway.jobs.periodic import Passes
from gateway.notify.outbox import deliver_due
from gateway.runtime.shutdown import SessionTracker

log = logging.getLogger(__name__)


class Server:
    def __init__(self, app: App, jobs: Jobs, *, run_workers: bool = True) -> None:
        self.app = app
        self.jobs = jobs
        self.run_workers = run_workers
        self.passes = Passes(app)  # the periodic jobs of this server's sweep
        self.loop = asyncio.new_event_loop()
        # EMFILE on accept: one log line per minute, not a traceback per attempt.
        self.loop.set_exception_handler(AcceptErrorLog())
        self.thread = threading.Thread(target=self.loop.run_forever, name="commgate-loop",
                                       daemon=True)
        self.worker: dramatiq.Worker | None = None
        self.smtp_server: asyncio.AbstractServer | None = None
        self.smtp_port: int | None = None
        self.sessions: SessionTracker | None = None  # open SMTP sessions, drained at stop()
        self._sweeper: Future[None] | None = None
        self._outbox: Future[None] | None = None  # outbox delivery (gateway/notify)
        self._stopped = False
        # Intake threads: large messages are written here, never on the event loop.
        self.intake_executor = ThreadPoolExecutor(max_workers=16,
                                                  thread_name_prefix="commgate-intake")
        self.pollers: list[ImapPoller] = []
        self.committer: GroupCommitter | None = None  # [smtp] writer = "thread"
        self.writer: IntakeWriter | None = None  # [smtp] writer = "process"

    def start(self) -> None:
        # First, so a missing IMAP password fails the start before anything listens.
        try:
            self.pollers = make_pollers(self.app, self.jobs.enqueue_message)
        except BaseException:
            self.stop()
            raise
        bind(self.app)
        report_unconfigured(self.app.settings)  # once at start, not on every pass
        if self.run_workers:
            self.worker = self.jobs.worker(self.app.settings.gateway.worker_threads)
            self.worker.start()
        self.thread.start()
        cfg = self.app.settings.gateway.smtp
        if cfg.enabled:
            if cfg.writer == "process":
                self.writer = IntakeWriter(self.app.settings, log_debug=_log_debug())
                try:
                    self.writer.start(self.loop)
                except StoreError:
                    self.writer = None  # killed by its own start; stop the rest we started
                    self.stop()
                    raise
            else:
                self.committer = GroupCommitter(self.app, on_stored=self.jobs.enqueue_message)
            factory = make_smtp_factory(self.app, self.jobs.enqueue_message,
                                        executor=self.intake_executor,
                                        committer=self.committer, writer=self.writer)
            tracker = SessionTracker(factory)
            try:
                self.smtp_server = asyncio.run_coroutine_threadsafe(
                    self.loop.create_server(tracker, host=cfg.host, port=cfg.port),
                    self.loop).result(timeout=30)
            except OSError as exc:
                self.stop()  # the writer, workers and loop we started: nothing is left running
                raise _listen_error(cfg.host, cfg.port, exc) from exc
            self.sessions = tracker
            self.smtp_port = self.smtp_server.sockets[0].getsockname()[1]
            log.info("SMTP listening on %s:%d (%s mode)", cfg.host, self.smtp_port, cfg.mode)
        for poller in self.pollers:
            poller.start()
        # Recover what a previous run stored but did not process, then keep sweeping.
        sweep(self.app, self.jobs, stale_after=timedelta(0))
        self._sweeper = asyncio.run_coroutine_threadsafe(self._sweep_forever(), self.loop)
        self._outbox = asyncio.run_coroutine_threadsafe(self._deliver_forever(), self.loop)

    def accepting_mail(self) -> bool:
        """The listener is open and can store mail (its intake writer, if any, is running)."""
        return (self.smtp_server is not None and self.smtp_server.is_serving()
                and (self.writer is None or self.writer.alive))

    async def _sweep_forever(self) -> None:
        interval = self.app.settings.gateway.sweep_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.get_running_loop().run_in_executor(None, sweep, self.app,
                                                                 self.jobs)
            except Exception:
                log.exception("sweep failed; retrying in %.0f s", interval)
            # Receipt deadlines, escalation and the other periodic jobs (gateway/jobs/periodic.py;
            # throttled, never raises).
            await asyncio.get_running_loop().run_in_executor(None, self.passes.maybe_run)

    async def _deliver_forever(self) -> None:
        """Deliver due outbox rows; claims in the rows make it safe in every process."""
        interval = self.app.settings.gateway.sweep_interval
        limit = self.app.settings.gateway.outbound.batch_size
        loop = asyncio.get_running_loop()
        last_error = ""
        while True:
            try:
                await loop.run_in_executor(None, lambda: deliver_due(
                    self.app, now=self.app.clock(), limit=limit))
                last_error = ""
            except Exception as exc:
                if str(exc) != last_error:  # once per distinct fault, not every sweep
                    log.exception("outbox delivery failed; retrying every %.0f s", interval)
                last_error = str(exc)
            await asyncio.sleep(interval)

    def stop(self, *, drain_timeout: float = 30.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        for poller in self.pollers:
            poller.stop(timeout=drain_timeout)
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._outbox is not None:
            self._outbox.cancel()
        if self.sessions is not None:  # close the listener, finish transactions, 421 to idle
            asyncio.run_coroutine_threadsafe(self.sessions.drain(drain_timeout,
                                                                 listener=self.smtp_server),
                                             self.loop).result(timeout=drain_timeout + 5)
        if self.smtp_server is not None:
            asyncio.run_coroutine_threadsafe(_close_listener(self.smtp_server),
                                             self.loop).result(timeout=drain_timeout)
        if self.worker is not None:
            if self.jobs.embedded:
                try:
                    self.jobs.broker.join(QUEUE, timeout=int(drain_timeout * 1000))
                except Exception:  # noqa: BLE001 - the sweep of the next start recovers it
                    log.warning("jobs still queued at shutdown; the next start resumes them")
            self.worker.stop()
        self.intake_executor.shutdown(wait=True)
        if self.committer is not None:
            self.committer.close()
        if self.writer is not None:
            self.writer.close(timeout=drain_timeout)
        if self.thread.ident is not None:  # started
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=drain_timeout)
        if not self.thread.is_alive():
            _close_loop(self.loop)
        log.info("stopped")


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close a stopped loop: cancel what is left on it, end its default executor, free its
    self-pipe (an unclosed loop leaks two sockets per server started)."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


def _log_debug() -> bool | None:
    """How the writer process logs: like us when our handler is installed, else not set up."""
    root = logging.getLogger()
    if not any(getattr(h, "_commgate", False) for h in root.handlers):
        return None
    return root.level <= logging.DEBUG


async def _close_listener(server: asyncio.AbstractServer) -> None:
    """Close on the loop's own thread: asyncio servers are not thread-safe."""
    server.close()
    await server.wait_closed()


def _listen_error(host: str, port: int, exc: OSError) -> ConfigError:
    """One line for a listener that cannot bind: most often another process holds the port."""
    if exc.errno == errno.EADDRINUSE:
        return ConfigError(f"cannot listen on {host}:{port}: the address is already in use",
                           key="[smtp] port",
                           hint="another commgate serve or a mail server holds it: stop it, "
                                "or set another port (COMMGATE_SMTP__PORT)")
    return ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                       key="[smtp] host/port",
                       hint="check the address is one of this machine's and the port is allowed")
