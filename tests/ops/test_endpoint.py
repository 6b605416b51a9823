"""/healthz and /metrics over loopback, on SQLite and PostgreSQL, beside a real SMTP listener."""

from __future__ import annotations

import smtplib
import socket
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from gateway.app import App
from gateway.config.settings import Ops
from gateway.errors import ConfigError
from gateway.observe.metrics import MESSAGES_ACCEPTED, imap_polled
from gateway.runtime.ops import OpsServer, start_ops
from gateway.store.db import unit_of_work
from gateway.store.imap_models import ImapCursor
from gateway.store.models import Message, Receipt, Record, Thread
from gateway.store.notify_models import OutboxMail
from tests.ops.conftest import StartOps, StartServer
from tests.ops.helpers import get, health, scrape, value
from tests.support.mail import make_mail, wait_for
from tests.support.services import PG_ADMIN_URL

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def send(port: int | None, mail: EmailMessage, to: str = "proj-demo@gw.example.com") -> None:
    assert port is not None
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
        smtp.send_message(mail, to_addrs=[to])


def test_healthz_is_ok_when_the_database_answers_and_smtp_listens(
        ops_app: App, start_server: StartServer, start_ops: StartOps) -> None:
    server = start_server(ops_app)
    ops = start_ops(ops_app, server)

    status, report = health(ops)

    assert status == 200
    assert report["status"] == "ok"
    assert report["database"] == "ok"
    assert report["smtp_listening"] is True
    assert report["queue_depth"] == 0
    assert report["quarantined"] == 0
    assert get(ops.url + "/nope")[0] == 404


def test_queue_depth_counts_messages_stored_but_not_processed(
        ops_app: App, start_server: StartServer, start_ops: StartOps) -> None:
    # Given a gateway whose workers are not running
    server = start_server(ops_app, run_workers=False)
    ops = start_ops(ops_app, server)
    # When two messages are accepted
    send(server.smtp_port, make_mail(subject="核心交换机巡检"))
    send(server.smtp_port, make_mail(subject="机房空调维护"))
    # Then both wait in the queue, in /healthz and in /metrics
    assert health(ops)[1]["queue_depth"] == 2
    assert value(scrape(ops), "commgate_queue_depth") == 2


def test_metrics_move_when_mail_goes_through_the_pipeline(
        ops_app: App, start_server: StartServer, start_ops: StartOps) -> None:
    server = start_server(ops_app)
    ops = start_ops(ops_app, server)
    before = scrape(ops)
    processed = value(before, "commgate_messages_processed_total", outcome="processed")

    send(server.smtp_port, make_mail(subject="机房巡检记录", body="巡检正常。\n"))
    send(server.smtp_port, make_mail(subject="备件到货", body="备件已到货。\n"))
    wait_for(lambda: value(scrape(ops), "commgate_messages_processed_total",
                           outcome="processed") == processed + 2)

    after = scrape(ops)
    assert value(after, "commgate_processing_seconds_count") == \
        value(before, "commgate_processing_seconds_count") + 2
    assert value(after, "commgate_queue_depth") == 0
    assert value(after, "commgate_database_up") == 1
    assert value(after, "commgate_smtp_listening") == 1


def test_the_smtp_edge_counts_accepted_and_refused_mail(
        ops_app: App, start_server: StartServer, start_ops: StartOps) -> None:
    server = start_server(ops_app)
    ops = start_ops(ops_app, server)
    before = scrape(ops)

    send(server.smtp_port, make_mail(subject="巡检"))
    with smtplib.SMTP("127.0.0.1", server.smtp_port or 0, timeout=20) as smtp:
        smtp.ehlo()
        smtp.mail("lina@xdyj.example.com")
        assert smtp.rcpt("stranger@elsewhere.example")[0] == 550

    after = scrape(ops)
    assert value(after, "commgate_messages_accepted_total", channel="smtp") == \
        value(before, "commgate_messages_accepted_total", channel="smtp") + 1
    assert value(after, "commgate_messages_rejected_total", reason="recipient") == \
        value(before, "commgate_messages_rejected_total", reason="recipient") + 1


def test_database_gauges_count_quarantine_receipts_outbox_and_imap_lag(
        ops_app: App, start_ops: StartOps) -> None:
    # Given a moment in time, and rows of every kind the gauges read
    ops_app.clock = lambda: NOW
    demo = ops_app.project_ids["demo"]
    with unit_of_work(ops_app.sessions) as session:
        message = Message(project_id=demo, message_id="a@x", sha256="0" * 64,
                          content_hash="0" * 64, size=1, state="quarantined")
        thread = Thread(project_id=demo)
        session.add_all([message, thread])
        session.flush()
        record = Record(project_id=demo, thread_id=thread.id)
        session.add(record)
        session.flush()
        past, future = NOW - timedelta(hours=1), NOW + timedelta(hours=1)
        for n, (status, deadline) in enumerate([("pending", past), ("pending", future),
                                                ("read", past), ("confirmed", past)]):
            session.add(Receipt(record_id=record.id, message_pk=message.id, status=status,
                                recipient=f"r{n}@xdyj.example.com", deadline=deadline))
        for state in ("queued", "retry", "sending", "failed", "sent"):
            session.add(OutboxMail(project_id=demo, kind="notice", idempotency_key=state,
                                   message_id=f"{state}@gw", envelope_from="a@gw.example.com",
                                   raw=b"x", state=state))
        session.add(ImapCursor(project_id=demo, account="ops@imap.example:993", folder="INBOX",
                               uidvalidity=1, updated_at=NOW - timedelta(seconds=600)))
        session.add(ImapCursor(project_id=demo, account="ops@imap.example:993", folder="Quiet",
                               uidvalidity=1, updated_at=NOW - timedelta(seconds=600)))
    # and a poll of one mailbox noted by the poller, more recent than its cursor
    imap_polled("demo", "ops@imap.example:993/Quiet", NOW - timedelta(seconds=30))
    ops = start_ops(ops_app)

    samples = scrape(ops)

    assert value(samples, "commgate_messages_quarantined") == 1
    assert value(samples, "commgate_receipts", status="pending") == 2
    assert value(samples, "commgate_receipts", status="confirmed") == 1
    assert value(samples, "commgate_receipts_overdue") == 2  # pending and read, past deadline
    assert value(samples, "commgate_outbox_pending") == 3
    assert value(samples, "commgate_outbox_failed") == 1
    assert value(samples, "commgate_imap_lag_seconds", project="demo",
                 mailbox="ops@imap.example:993/INBOX") == 600
    assert value(samples, "commgate_imap_lag_seconds", project="demo",
                 mailbox="ops@imap.example:993/Quiet") == 30
    assert health(ops)[1]["quarantined"] == 1


def test_healthz_is_503_with_the_reason_when_the_database_is_gone(
        ops_app: App, start_ops: StartOps, database_url: str) -> None:
    ops = start_ops(ops_app)
    assert health(ops)[0] == 200

    url = make_url(database_url)
    if url.drivername.startswith("sqlite"):
        db = Path(url.database or "")
        db.rename(db.with_name("moved-away.db"))
    else:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{url.database}" WITH (FORCE)')

    status, report = health(ops)
    assert status == 503
    assert report["status"] == "unavailable"
    assert report["reason"] == "database unavailable"
    assert report["database"].startswith("error: ")
    samples = scrape(ops)  # /metrics still answers, and says so
    assert value(samples, "commgate_database_up") == 0


def test_several_endpoints_in_one_process_share_the_counters(
        ops_app: App, start_ops: StartOps) -> None:
    first, second = start_ops(ops_app), start_ops(ops_app)
    MESSAGES_ACCEPTED.labels(channel="import").inc()

    a, b = scrape(first), scrape(second)

    assert value(a, "commgate_messages_accepted_total", channel="import") == \
        value(b, "commgate_messages_accepted_total", channel="import") >= 1
    assert value(a, "commgate_database_up") == value(b, "commgate_database_up") == 1


def test_a_disabled_endpoint_does_not_start_and_a_busy_port_is_one_config_error(
        ops_app: App) -> None:
    assert start_ops(ops_app, cfg=Ops(enabled=False)) is None
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=r"ops\.port"):
            OpsServer(ops_app, Ops(port=port)).start()
