"""Policy 4.4: important client records reach the business-process system (DingTalk) — exactly
once each, correctly signed, across an outage of the receiving end, with state visible."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.connectors import outbox as connector_outbox
from gateway.connectors.dingtalk import sign
from gateway.connectors.outbox import dispatch_due, report_unconfigured
from gateway.store.audit_models import AuditEvent, ConnectorDelivery
from gateway.store.db import unit_of_work
from gateway.testing.clock import FakeClock
from tests.audit.helpers import change_notice, deliver
from tests.connectors.conftest import Sink
from tests.support.mail import make_mail


def deliveries(app: App) -> list[ConnectorDelivery]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(ConnectorDelivery).order_by(ConnectorDelivery.id)))


def three_mails(app: App) -> None:
    """Two client change notices (one with a reply) and one internal directive."""
    deliver(app, change_notice(message_id="<cn-1@xdyj.example.com>"))
    reply = change_notice("Re: 【变更通知】核心交换机割接时间调整", message_id="<cn-1r@client>")
    reply.replace_header("From", "huang@client.example.cn")
    reply["In-Reply-To"] = reply["References"] = "<cn-1@xdyj.example.com>"
    deliver(app, reply)
    deliver(app, change_notice("【变更通知】机房空调检修时间调整",
                               message_id="<cn-2@xdyj.example.com>"))
    deliver(app, make_mail(subject="【指令】今晚22:00前完成核心交换机巡检"))


def drain(app: App, clock: FakeClock, environ: dict[str, str], rounds: int = 12) -> None:
    for _ in range(rounds):
        dispatch_due(app, environ=environ)
        if all(d.state == "sent" for d in deliveries(app)):
            return
        clock.advance(hours=1)  # past the longest back-off


def test_each_qualifying_record_is_posted_once_across_an_outage(
        app: App, sink: Sink, clock: FakeClock, environ: dict[str, str]) -> None:
    # Given two client change notices and an internal directive (which does not qualify)
    three_mails(app)
    rows = deliveries(app)
    assert sorted((d.record_id, d.connector) for d in rows) == sorted(
        (r, c) for r in {d.record_id for d in rows} for c in ("crm", "dingtalk"))
    assert len({d.record_id for d in rows}) == 2
    # When the receiving end fails: two HTTP 500s, a hang past the timeout, then recovers
    sink.plan = ["500", "500", "hang"]
    drain(app, clock, environ)
    # Then every delivery is sent, and each record reached each sink exactly once, signed
    assert [d.state for d in deliveries(app)] == ["sent"] * 4
    assert sink.refused == []
    ding = [p["body"] for p in sink.accepted if p["kind"] == "dingtalk"]
    hooks = [p for p in sink.accepted if p["kind"] == "webhook"]
    assert len(ding) == 2 and len(hooks) == 2
    assert {p["body"]["record"]["record_id"] for p in hooks} == {d.record_id for d in rows}
    assert len({p["key"] for p in hooks}) == 2
    assert all(b["msgtype"] == "markdown" and "【变更通知】" in b["markdown"]["title"]
               for b in ding)
    assert sum(d.attempts for d in deliveries(app)) == 4 + 3  # three failed attempts in all
    # And each delivery is in the audit trail
    with unit_of_work(app.sessions) as s:
        assert len(list(s.scalars(select(AuditEvent).where(
            AuditEvent.action == "connector.delivered")))) == 4


def test_failures_are_visible_and_retried_with_back_off(
        app: App, sink: Sink, clock: FakeClock, environ: dict[str, str]) -> None:
    deliver(app, change_notice())
    sink.plan = ["500", "500"]
    stats = dispatch_due(app, environ=environ)
    assert (stats.sent, stats.failed) == (0, 2)
    row = deliveries(app)[0]
    assert row.state == "pending" and "HTTP 500" in (row.last_error or "")
    assert (row.next_attempt_at - clock.now).total_seconds() == 30  # retry_min_seconds
    # Nothing is due before the back-off ends
    assert dispatch_due(app, environ=environ).sent == 0
    clock.advance(seconds=30)
    assert dispatch_due(app, environ=environ).sent == 2


def test_an_unset_webhook_url_keeps_the_delivery_waiting(
        app: App, sink: Sink, clock: FakeClock, environ: dict[str, str]) -> None:
    deliver(app, change_notice())
    dispatch_due(app, environ={})
    assert {d.state for d in deliveries(app)} == {"pending"}
    errors = " ".join(d.last_error or "" for d in deliveries(app))
    assert "COMMGATE_DEMO_DINGTALK_URL is not set" in errors
    clock.advance(hours=1)
    assert dispatch_due(app, environ=environ).sent == 2


def test_an_unconfigured_connector_is_reported_once_not_on_every_pass(
        app: App, sink: Sink, clock: FakeClock, environ: dict[str, str],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connector_outbox, "_reported", set())  # a fresh process
    # Given the shipped demo config with no DingTalk URL, and a record waiting for it
    deliver(app, change_notice())
    only_crm = {k: v for k, v in environ.items() if "DINGTALK" not in k}
    # When the scheduler passes twenty times over an hour
    with caplog.at_level(logging.INFO, logger="gateway.connectors"):
        for _ in range(20):
            stats = dispatch_due(app, environ=only_crm)
            clock.advance(minutes=3)
    # Then the unconfigured connector was reported once, and never attempted
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "COMMGATE_DEMO_DINGTALK_URL is not set" in warnings[0].getMessage()
    assert stats.waiting == 1 and stats.failed == 0
    ding = [d for d in deliveries(app) if d.connector == "dingtalk"]
    assert [(d.state, d.attempts) for d in ding] == [("pending", 0)]
    assert "COMMGATE_DEMO_DINGTALK_URL is not set" in (ding[0].last_error or "")
    # And the configured webhook went out meanwhile; DingTalk goes once its URL is set
    assert [d.state for d in deliveries(app) if d.connector == "crm"] == ["sent"]
    assert dispatch_due(app, environ=environ).sent == 1
    # The start of a process reports it again, once
    monkeypatch.setattr(connector_outbox, "_reported", set())
    assert report_unconfigured(app.settings, {}) == 2  # dingtalk and crm, both unset
    assert report_unconfigured(app.settings, {}) == 0


def test_two_dispatchers_at_once_post_each_record_once(
        app: App, sink: Sink, environ: dict[str, str]) -> None:
    for i in range(5):
        deliver(app, change_notice(f"【变更通知】第{i}次割接", message_id=f"<cn-{i}@x>"))
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        dispatch_due(app, environ=environ)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sink.accepted) == 10
    assert all(d.state == "sent" for d in deliveries(app))


def test_dingtalk_sign_matches_the_documented_example() -> None:
    # Computed by hand from the documented algorithm: base64(hmac_sha256(secret, ts\nsecret)).
    import base64
    import hashlib
    import hmac
    import urllib.parse

    secret, ts = "SECabc", 1700000000000
    raw = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    assert sign(secret, ts) == urllib.parse.quote_plus(base64.b64encode(raw))
    assert "%" in sign(secret, ts) or "+" not in sign(secret, ts)
