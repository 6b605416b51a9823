"""The process's Prometheus counters: events counted where they happen.

A message accepted or refused at the edge, a pipeline run, a config reload are counted in
:data:`REGISTRY` — the gateway's own registry, not prometheus-client's global one, so importing
the gateway never clashes with another library's metrics and several servers in one test
process share the counters without registering them twice. The ops endpoints serve them with
the gauges they read from the database (gateway/runtime/metrics.py).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram

from gateway.observe.logs import log_context

if TYPE_CHECKING:
    from gateway.app import App

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES_ACCEPTED = Counter(
    "commgate_messages_accepted", "Messages stored and acknowledged, by intake channel "
    "(smtp, lmtp, imap, import); duplicates included.", ["channel"], registry=REGISTRY)
MESSAGES_REJECTED = Counter(
    "commgate_messages_rejected", "Messages or recipients refused at the edge, by reason.",
    ["reason"], registry=REGISTRY)
MESSAGES_PROCESSED = Counter(
    "commgate_messages_processed", "Pipeline runs by outcome: processed, quarantined, skipped "
    "(another worker had it), error (database trouble; the job retries).", ["outcome"],
    registry=REGISTRY)
PROCESSING_SECONDS = Histogram(
    "commgate_processing_seconds", "Time one pipeline run took (parse to record).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY)
CONFIG_RELOADS = Counter(
    "commgate_config_reloads", "Configuration reloads (SIGHUP) by result: ok, refused.",
    ["result"], registry=REGISTRY)

# The reasons MESSAGES_REJECTED uses; the SMTP edge picks one of these.
REJECT_REASONS = ("recipient", "too_many_recipients", "data_fault", "size", "store_failed",
                  "intake_closed", "connection_limit", "starttls_required")
for _reason in REJECT_REASONS:  # present from the start, so rate() works on the first event
    MESSAGES_REJECTED.labels(reason=_reason)


# Last successful IMAP sync pass per (project, mailbox) in this process: imap_polled().
_imap_polls: dict[tuple[str, str], datetime] = {}
_imap_lock = threading.Lock()


def imap_polled(project: str, mailbox: str, at: datetime) -> None:
    """Note a successful IMAP sync pass (called by the poller after each pass)."""
    with _imap_lock:
        _imap_polls[(project, mailbox)] = at


def imap_polls() -> dict[tuple[str, str], datetime]:
    """When each (project, mailbox) was last synced by this process."""
    with _imap_lock:
        return dict(_imap_polls)


def observe_pipeline(run: Callable[[App, int], str]) -> Callable[[App, int], str]:
    """Decorate the pipeline driver: time each run, count its outcome, name the message in logs.

    An exception (database trouble, re-raised so the job retries) counts as ``error``.
    """

    @functools.wraps(run)
    def observed(app: App, message_pk: int) -> str:
        outcome = "error"
        with log_context(message_pk=message_pk), PROCESSING_SECONDS.time():
            try:
                outcome = run(app, message_pk)
                return outcome
            finally:
                MESSAGES_PROCESSED.labels(outcome=outcome).inc()

    return observed
