"""The periodic jobs: what every scheduler pass runs, declared once, each run guarded.

A pass runs :data:`PERIODIC_JOBS` in order — the receipt ladder (gateway/jobs/scheduler.py),
due periodic reports and expected-mail reminders (gateway/reports/schedule.py), due connector
deliveries (gateway/connectors/outbox.py), periodic archives (gateway/archive/periodic.py) and
the daily audit anchor (gateway/audit/anchor.py). :func:`run_guarded` is the one place a job's
failure is caught and logged: the pass goes on with the next job and the next pass retries.

The state of a running loop lives in a :class:`Passes` object owned by that loop —
``commgate serve`` (its sweep calls :meth:`Passes.maybe_run`, throttled to one pass every
``SERVE_TICK_INTERVAL`` seconds) and ``commgate scheduler`` (:func:`run_forever`) — never in
module globals.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.app import App
from gateway.archive.periodic import archive_due
from gateway.audit.anchor import anchor_if_due
from gateway.connectors.outbox import dispatch_due
from gateway.jobs.scheduler import tick
from gateway.reports.schedule import tick as reports_tick

log = logging.getLogger(__name__)

SERVE_TICK_INTERVAL = 30.0  # seconds between passes inside `commgate serve`


@dataclass(frozen=True)
class Job:
    """One periodic job: ``run(app, passes)``; ``what`` names it in the log when it fails."""

    what: str
    run: Callable[[App, Passes], object]


def run_guarded(what: str, body: Callable[[], object]) -> None:
    """Run ``body``; a failure is logged and swallowed (the loops must keep running)."""
    try:
        body()
    except Exception:
        log.exception("%s failed; the next pass retries", what)


def start_archives(app: App, passes: Passes) -> None:
    """Periodic handover archives. An export takes minutes, so it runs in a thread of its own,
    one at a time, and never holds up reminders."""
    if not passes.archiving.acquire(blocking=False):
        return

    def run() -> None:
        try:
            run_guarded("periodic archive", lambda: archive_due(app))
        finally:
            passes.archiving.release()

    threading.Thread(target=run, name="commgate-archive", daemon=True).start()


PERIODIC_JOBS: tuple[Job, ...] = (
    Job("scheduler tick", lambda app, _passes: tick(app)),
    Job("report tick", lambda app, _passes: reports_tick(app, app.clock())),
    Job("connector dispatch", lambda app, _passes: dispatch_due(app, now=app.clock())),
    Job("starting the periodic archive", start_archives),
    Job("writing the audit anchors", lambda app, _passes: anchor_if_due(app)),
)


@dataclass
class Passes:
    """The periodic passes of one loop over one app, and the state they keep between passes."""

    app: App
    interval: float = field(default_factory=lambda: SERVE_TICK_INTERVAL)
    jobs: tuple[Job, ...] = PERIODIC_JOBS
    archiving: threading.Lock = field(default_factory=threading.Lock, init=False)
    _last: float | None = field(default=None, init=False)  # when the last pass began
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def run(self) -> None:
        """One pass: every job in order, each guarded."""
        for job in self.jobs:
            run_guarded(job.what, functools.partial(job.run, self.app, self))

    def maybe_run(self) -> None:
        """A pass, unless the last one began less than ``interval`` seconds ago (``serve``)."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._last < self.interval:
                return
            self._last = time.monotonic()
        self.run()


def run_forever(app: App, *, interval: float, stop: threading.Event) -> None:
    """``commgate scheduler``: a pass every ``interval`` seconds until ``stop`` is set."""
    passes = Passes(app, interval=interval)
    while not stop.is_set():
        passes.run()
        stop.wait(interval)
