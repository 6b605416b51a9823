"""Prometheus metrics as an ops endpoint serves them: the process's counters
(gateway/observe/metrics.py, counted where events happen) and gauges read from the database.

State (queue depth, quarantine, receipts, outbox, IMAP lag) is not counted but *read* at scrape
time by :class:`DatabaseCollector` with a few COUNT queries, so every front end and worker
reports the same truth and a restart loses nothing (DESIGN §2: the database is the source of
truth). Each ops endpoint registers its own collector on its own registry
(gateway/runtime/ops.py). Tables that do not exist yet are skipped, metric by metric:

=================================  ==================================================
metric                             needs
=================================  ==================================================
commgate_queue_depth               ``messages`` (index ix_messages_state)
commgate_messages_quarantined      ``messages`` (index ix_messages_state)
commgate_receipts                  ``receipts`` (status; grouped)
commgate_receipts_overdue          ``receipts`` (status, deadline)
commgate_outbox_pending / _failed  ``outbox`` (index ix_outbox_due)
commgate_imap_lag_seconds          ``imap_cursors`` and :func:`imap_polled` calls
=================================  ==================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from gateway.app import App
from gateway.observe.metrics import REGISTRY, imap_polls
from gateway.store.imap_models import ImapCursor
from gateway.store.models import Message, Project, Receipt
from gateway.store.notify_models import OutboxMail

log = logging.getLogger(__name__)

OPEN_RECEIPT_STATES = ("pending", "read", "overdue")  # not yet confirmed nor answered
OUTBOX_PENDING_STATES = ("queued", "sending", "retry")


class _Forward(Collector):
    """Exposes :data:`REGISTRY`'s counters through an ops endpoint's own registry."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class DatabaseCollector(Collector):
    """Gauges read from the database at each scrape; see the module docstring for tables."""

    def __init__(self, app: App, *, smtp_listening: Callable[[], bool] | None = None) -> None:
        self.app = app
        self.smtp_listening = smtp_listening
        self._missing: set[str] = set()  # tables reported missing once already

    def describe(self) -> Iterator[Metric]:
        return iter(())  # computed at scrape time; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("commgate_database_up",
                               "1 when the database answered this scrape.")
        families: list[Metric] = []
        if self.smtp_listening is not None:
            families.append(GaugeMetricFamily(
                "commgate_smtp_listening", "1 while the SMTP/LMTP listener accepts connections.",
                value=int(self.smtp_listening())))
        try:
            missing = missing_database_file(self.app)
            if missing:
                raise OSError(missing)
            # AUTOCOMMIT: each COUNT is its own statement, so a missing table (PostgreSQL
            # aborts the transaction on an error) does not fail the queries after it.
            with self.app.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                families.extend(self._message_gauges(conn))
                up.add_metric([], 1)
                for part in (self._receipt_gauges, self._outbox_gauges, self._imap_gauges):
                    families.extend(self._tolerant(part, conn))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("metrics: the database did not answer: %s", _first_line(exc))
            up.add_metric([], 0)
        yield up
        yield from families

    def _tolerant(self, part: Callable[[Connection], list[Metric]],
                  conn: Connection) -> list[Metric]:
        """Run one group of queries; a table another stage has not created yet skips it."""
        try:
            return part(conn)
        except SQLAlchemyError as exc:
            name = part.__name__
            if name not in self._missing:
                self._missing.add(name)
                log.info("metrics: %s skipped (table missing or unreadable): %s", name.lstrip("_"),
                         _first_line(exc))
            return []

    def _message_gauges(self, conn: Connection) -> list[Metric]:
        counts = message_counts(conn)
        return [
            GaugeMetricFamily("commgate_queue_depth", "Messages stored (state received) whose "
                              "processing has not finished.", value=counts.get("received", 0)),
            GaugeMetricFamily("commgate_messages_quarantined", "Messages in quarantine, "
                              "awaiting `commgate replay`.", value=counts.get("quarantined", 0)),
        ]

    def _receipt_gauges(self, conn: Connection) -> list[Metric]:
        receipts = GaugeMetricFamily("commgate_receipts", "Receipts by status.",
                                     labels=["status"])
        for status, count in conn.execute(select(Receipt.status, func.count())
                                          .group_by(Receipt.status)):
            receipts.add_metric([status], count)
        overdue = conn.execute(select(func.count()).select_from(Receipt).where(
            Receipt.status.in_(OPEN_RECEIPT_STATES), Receipt.deadline < self.app.clock())
        ).scalar_one()
        return [receipts, GaugeMetricFamily(
            "commgate_receipts_overdue", "Receipts past their deadline and not yet confirmed.",
            value=overdue)]

    def _outbox_gauges(self, conn: Connection) -> list[Metric]:
        counts = _counts(conn, OutboxMail.state, (*OUTBOX_PENDING_STATES, "failed"))
        pending = sum(counts.get(state, 0) for state in OUTBOX_PENDING_STATES)
        return [
            GaugeMetricFamily("commgate_outbox_pending", "Outbound mails queued, sending or "
                              "waiting to retry.", value=pending),
            GaugeMetricFamily("commgate_outbox_failed", "Outbound mails that gave up.",
                              value=counts.get("failed", 0)),
        ]

    def _imap_gauges(self, conn: Connection) -> list[Metric]:
        """Seconds since the last known successful poll of each mailbox.

        A cursor's ``updated_at`` moves only when new mail is stored, so it bounds the lag from
        above; a pass noted by :func:`imap_polled` in this process narrows it. The newer wins.
        """
        now = self.app.clock()
        last: dict[tuple[str, str], datetime] = {}
        rows = conn.execute(select(Project.code, ImapCursor.account, ImapCursor.folder,
                                   ImapCursor.updated_at)
                            .join(Project, Project.id == ImapCursor.project_id))
        for code, account, folder, updated in rows:
            last[(code, f"{account}/{folder}")] = _aware(updated)
        polls = imap_polls()
        for key, at in polls.items():
            if key[0] in self.app.settings.projects:
                last[key] = max(at, last.get(key, at))
        lag = GaugeMetricFamily("commgate_imap_lag_seconds", "Seconds since the last successful "
                                "IMAP poll, per project mailbox.", labels=["project", "mailbox"])
        for (code, mailbox), at in sorted(last.items()):
            lag.add_metric([code, mailbox], max(0.0, (now - at).total_seconds()))
        return [lag]


def message_counts(conn: Connection) -> dict[str, int]:
    """Messages waiting (``received``) and in quarantine: one indexed scan (ix_messages_state)."""
    return _counts(conn, Message.state, ("received", "quarantined"))


def _counts(conn: Connection, column: Any, states: tuple[str, ...]) -> dict[str, int]:
    rows = conn.execute(select(column, func.count()).where(column.in_(states))
                        .group_by(column))
    return {state: count for state, count in rows}


def missing_database_file(app: App) -> str | None:
    """Why the SQLite file is gone, or None. A deleted file keeps working through the open
    connections — into an inode nobody will ever find again — so its path is checked too."""
    url = make_url(app.settings.database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    path = Path(url.database or "")
    return None if path.is_file() else f"database file {path} is missing"


def _aware(value: Any) -> datetime:
    """Core selects bypass the ORM type on some paths; SQLite hands back naive UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def make_registry(app: App, *, smtp_listening: Callable[[], bool] | None = None
                  ) -> CollectorRegistry:
    """A registry for one ops endpoint: the process-wide counters and this app's gauges."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Forward())
    registry.register(DatabaseCollector(app, smtp_listening=smtp_listening))
    return registry
