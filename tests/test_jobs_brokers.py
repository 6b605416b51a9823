"""The production job path: a front end hands jobs to a real broker, a separate worker runs them."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select

from gateway.app import build_app
from gateway.config.settings import Settings
from gateway.jobs.actors import bind, make_jobs
from gateway.store.db import unit_of_work
from gateway.store.models import Record
from tests.support.mail import make_mail, wait_for
from tests.support.services import RABBIT_URL, REDIS_URL, require


def _redis() -> str:
    require("127.0.0.1", 6379, "Redis")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


def _rabbit() -> str:
    require("127.0.0.1", 5672, "RabbitMQ")
    return RABBIT_URL


@pytest.mark.parametrize("broker", [pytest.param(_redis, marks=pytest.mark.redis, id="redis"),
                                    pytest.param(_rabbit, marks=pytest.mark.rabbitmq,
                                                 id="rabbitmq")])
def test_front_end_and_separate_worker_through_a_real_broker(
        make_settings: Callable[..., Settings], pg_url: str, broker: Callable[[], str],
        start_server: Callable[..., object]) -> None:
    # Given PostgreSQL, a real broker, a front end without workers and one worker
    settings = make_settings(database_url=pg_url, broker_url=broker())
    front = build_app(settings)
    server = start_server(front, run_workers=False)
    worker_app = build_app(settings, migrate=False)
    jobs = make_jobs(settings.gateway.broker_url)
    bind(worker_app)
    worker = jobs.worker(2)
    worker.start()
    try:
        subject = f"【指令】核心交换机巡检 {uuid.uuid4().hex[:6]}"
        # When a message arrives
        with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:  # type: ignore[attr-defined]
            smtp.send_message(make_mail(subject=subject), to_addrs=["proj-demo@gw.example.com"])

        # Then the worker process turns it into a record
        def record() -> Record | None:
            with unit_of_work(worker_app.sessions) as s:
                return s.scalars(select(Record).where(Record.subject == subject)).one_or_none()

        assert wait_for(record, timeout=30).category == "directive"
    finally:
        server.stop(drain_timeout=10)  # before its app closes: a stopping server still writes
        worker.stop()
        jobs.broker.close()
        worker_app.close()
        front.close()
