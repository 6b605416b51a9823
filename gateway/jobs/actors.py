"""Jobs: dramatiq actors that take ids, the broker for each deployment, and the recovery sweep.

Embedded default (no ``broker_url``): an in-memory dramatiq broker whose workers run as threads
inside ``commgate serve``. Production: Redis (``redis://``) or RabbitMQ (``amqp://``) carries the
jobs to ``commgate worker`` processes. Either way the database is the source of truth: a message
row says whether it still needs processing, and :func:`sweep` re-enqueues work whose job was lost
(a crash, a broker restart, or a CLI import made while no broker was reachable). Actors are safe
to run twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import or_, select, update

from gateway.app import App
from gateway.errors import AppNotBound
from gateway.pipeline import process
from gateway.store.db import unit_of_work
from gateway.store.models import Message

log = logging.getLogger(__name__)

QUEUE = "commgate"
_app: App | None = None


def bind(app: App) -> None:
    """Give the actors of this process the app they work with."""
    global _app
    _app = app


def current_app() -> App:
    if _app is None:
        raise AppNotBound("no App bound: call gateway.jobs.actors.bind(app) first")
    return _app


def make_broker(url: str) -> dramatiq.Broker:
    if not url:
        return StubBroker()
    # Each broker's client library (redis, pika) is loaded only when that broker is configured.
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)  # type: ignore[no-untyped-call]
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=url)


def _process_message(message_pk: int) -> None:
    process(current_app(), message_pk)


@dataclass
class Jobs:
    """The actors, declared on one broker."""

    broker: dramatiq.Broker
    process_message: Any

    @property
    def embedded(self) -> bool:
        return isinstance(self.broker, StubBroker)

    def enqueue_message(self, message_pk: int) -> bool:
        """Send the processing job; never raises. The caller has set ``enqueued_at``.

        The message is already stored, so a broker that is down must not turn into an error
        for the sender (an SMTP client would bounce mail we kept): the job is left to the
        sweep, which re-sends it once ``sweep_stale_after`` has passed.
        """
        try:
            self.process_message.send(message_pk)
        except Exception as exc:  # noqa: BLE001 - any broker failure: the sweep recovers it
            log.warning("message %d stored, but the job could not be queued (%s: %s); the "
                        "sweep will queue it again", message_pk, type(exc).__name__, exc)
            return False
        return True

    def worker(self, threads: int) -> dramatiq.Worker:
        return dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=200)


def make_jobs(url: str) -> Jobs:
    broker = make_broker(url)
    actor = dramatiq.actor(broker=broker, actor_name="process_message", queue_name=QUEUE,
                           max_retries=20, min_backoff=1_000, max_backoff=300_000,
                           )(_process_message)
    return Jobs(broker=broker, process_message=actor)


def sweep(app: App, jobs: Jobs, *, stale_after: timedelta | None = None,
          limit: int = 1000) -> int:
    """Re-enqueue stored messages not yet processed whose job is missing or stale."""
    if stale_after is None:
        stale_after = timedelta(seconds=app.settings.gateway.sweep_stale_after)
    cutoff = app.clock() - stale_after
    with unit_of_work(app.sessions) as session:
        pks = list(session.scalars(
            select(Message.id)
            .where(Message.state == "received",
                   or_(Message.enqueued_at.is_(None), Message.enqueued_at < cutoff))
            .order_by(Message.id).limit(limit)))
        if pks:
            session.execute(update(Message).where(Message.id.in_(pks))
                            .values(enqueued_at=app.clock()))
    for pk in pks:
        jobs.enqueue_message(pk)
    if pks:
        log.info("sweep: re-enqueued %d stored message(s) awaiting processing", len(pks))
    return len(pks)
