"""The outbox delivers every mail exactly once per row, through outages, refusals and races."""

from __future__ import annotations

import mailbox
import threading
from collections.abc import Callable
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.notify.bounces import record_bounce, suppress
from gateway.notify.compose import compose
from gateway.notify.outbox import claim, deliver_due, queue
from gateway.store.db import unit_of_work
from gateway.store.notify_models import OutboxMail
from gateway.testing.clock import FakeClock
from tests.notify.conftest import Sink
from tests.support.mail import wait_for

CLIENT = "huang@client.example.cn"
ENGINEER = "he@client.example.cn"


def _mail(app: App, subject: str = "【指令】巡检", to: tuple[str, ...] = (CLIENT,)) -> EmailMessage:
    project = app.settings.project("demo")
    return compose(settings=app.settings, project=project,
                   sender=("张伟", "zhangwei@xdyj.example.com"), to=list(to),
                   subject=subject, text="请确认。\n", html="<p>请确认。</p>",
                   automated=False)


def _queue(app: App, key: str, to: tuple[str, ...] = (CLIENT,),
           subject: str = "【指令】巡检") -> int:
    with unit_of_work(app.sessions) as session:
        row = queue(session, project_id=app.project_ids["demo"], kind="directive",
                    idempotency_key=key, message=_mail(app, subject, to), recipients=list(to),
                    now=app.clock())
        return row.id


def _row(app: App, pk: int) -> OutboxMail:
    with unit_of_work(app.sessions) as session:
        row = session.get_one(OutboxMail, pk)
        _ = row.recipients
        return row


def test_queue_is_idempotent_on_its_key(embedded_app: App) -> None:
    # Given a mail queued under a key, When the same key is queued again
    first = _queue(embedded_app, "k1")
    second = _queue(embedded_app, "k1")
    # Then there is one row
    assert first == second
    with unit_of_work(embedded_app.sessions) as s:
        assert len(list(s.scalars(select(OutboxMail)))) == 1


def test_embedded_default_writes_a_maildir(embedded_app: App) -> None:
    pk = _queue(embedded_app, "k1")
    assert deliver_due(embedded_app, now=embedded_app.clock()) == 1
    assert _row(embedded_app, pk).state == "sent"
    box = mailbox.Maildir(embedded_app.settings.outbox_dir, create=False)
    [key] = box.keys()
    stored = message_from_bytes(box.get_bytes(key), policy=default)
    assert stored["X-Commgate-Envelope-To"] == CLIENT
    assert stored["Subject"] == "【指令】巡检"
    # Delivering again sends nothing more
    assert deliver_due(embedded_app, now=embedded_app.clock()) == 0
    assert len(list(mailbox.Maildir(embedded_app.settings.outbox_dir))) == 1


def test_relay_delivers_with_envelope_and_headers(relay_app: App, sink: Sink) -> None:
    pk = _queue(relay_app, "k1", to=(CLIENT, ENGINEER))
    assert deliver_due(relay_app, now=relay_app.clock()) == 1
    [(mail_from, rcpts, raw)] = sink.handler.received
    assert mail_from == "proj-demo@gw.example.com"
    assert sorted(rcpts) == sorted([CLIENT, ENGINEER])
    assert b"\r\nDate: " in raw and b"@gw.example.com>" in raw
    row = _row(relay_app, pk)
    assert row.state == "sent" and row.attempts == 1
    assert {r.state for r in row.recipients} == {"sent"}


def test_relay_down_then_up_loses_nothing_and_sends_once(relay_app: App, sink: Sink,
                                                          clock: FakeClock) -> None:
    # Given three mails queued while the relay is down
    sink.stop()
    pks = [_queue(relay_app, f"k{i}", subject=f"【指令】巡检 {i}") for i in range(3)]
    for _ in range(5):  # an hour of sweeps
        assert deliver_due(relay_app, now=clock.now) == 0
        clock.advance(minutes=12)
    states = {_row(relay_app, pk).state for pk in pks}
    assert states <= {"queued", "retry"}
    assert _row(relay_app, pks[0]).last_error and "cannot connect" in str(
        _row(relay_app, pks[0]).last_error)
    # When the relay is back and enough time has passed for the back-off
    sink.start()
    clock.advance(hours=1)
    sent = deliver_due(relay_app, now=clock.now)
    sent += deliver_due(relay_app, now=clock.advance(hours=1))
    # Then each mail arrives exactly once
    assert sent == 3
    subjects = sorted(m["Subject"] for m in sink.handler.messages())
    assert subjects == [f"【指令】巡检 {i}" for i in range(3)]
    assert deliver_due(relay_app, now=clock.advance(hours=2)) == 0
    assert len(sink.handler.received) == 3


def test_4xx_is_retried_with_backoff_and_5xx_is_permanent(relay_app: App, sink: Sink,
                                                           clock: FakeClock) -> None:
    # Given a relay that answers DATA with 421 then 451, then accepts
    sink.handler.data_replies = ["421 4.3.2 shutting down", "451 4.3.0 try again later"]
    pk = _queue(relay_app, "k1")
    assert deliver_due(relay_app, now=clock.now) == 0
    first = _row(relay_app, pk)
    assert first.state == "retry" and "421" in str(first.last_error)
    # Not due before the back-off has passed
    assert deliver_due(relay_app, now=clock.now + timedelta(seconds=30)) == 0
    assert _row(relay_app, pk).attempts == 1
    assert deliver_due(relay_app, now=clock.advance(minutes=1)) == 0
    second = _row(relay_app, pk)
    assert second.attempts == 2 and second.next_attempt_at - clock.now == timedelta(minutes=2)
    assert deliver_due(relay_app, now=clock.advance(minutes=2)) == 1
    assert len(sink.handler.received) == 1
    # A 5xx for the only recipient fails the row at once
    sink.handler.rcpt_replies["nobody@client.example.cn"] = "550 5.1.1 no such user"
    bad = _queue(relay_app, "k2", to=("nobody@client.example.cn",))
    assert deliver_due(relay_app, now=clock.now) == 0
    row = _row(relay_app, bad)
    assert row.state == "failed" and "550" in str(row.last_error)


def test_partial_refusal_is_per_recipient_and_never_resends(relay_app: App, sink: Sink,
                                                            clock: FakeClock) -> None:
    # Given one recipient refused permanently and one temporarily
    sink.handler.rcpt_replies = {"nobody@client.example.cn": "550 5.1.1 unknown",
                                 ENGINEER: "450 4.2.1 mailbox busy"}
    pk = _queue(relay_app, "k1", to=(CLIENT, "nobody@client.example.cn", ENGINEER))
    deliver_due(relay_app, now=clock.now)
    row = _row(relay_app, pk)
    assert {r.address: r.state for r in row.recipients} == {
        CLIENT: "sent", "nobody@client.example.cn": "failed", ENGINEER: "pending"}
    assert row.state == "retry"
    # When the busy mailbox recovers, only it receives the retry
    sink.handler.rcpt_replies.pop(ENGINEER)
    deliver_due(relay_app, now=clock.advance(hours=1))
    assert [rcpts for _f, rcpts, _r in sink.handler.received] == [[CLIENT], [ENGINEER]]
    assert _row(relay_app, pk).state == "sent"


def test_two_workers_never_send_the_same_row(relay_app: App, sink: Sink, clock: FakeClock) -> None:
    pks = [_queue(relay_app, f"k{i}", subject=f"【指令】巡检 {i}") for i in range(6)]
    # A second claim of a claimed row fails
    token = claim(relay_app, pks[0], now=clock.now)
    assert token is not None and claim(relay_app, pks[0], now=clock.now) is None
    # Racing sweeps deliver each remaining row once
    threads = [threading.Thread(target=deliver_due, args=(relay_app,),
                                kwargs={"now": clock.now}) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(m["Subject"] for m in sink.handler.messages()) == \
        [f"【指令】巡检 {i}" for i in range(1, 6)]
    # The row whose worker "crashed" is claimed again after its lease
    assert deliver_due(relay_app, now=clock.now) == 0
    assert deliver_due(relay_app, now=clock.advance(minutes=6)) == 1
    assert len(sink.handler.received) == 6
    assert _row(relay_app, pks[0]).attempts == 2


def test_suppressed_recipients_are_not_sent_and_rate_limited_ones_wait(
        make_app, sink: Sink, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    app = make_app(COMMGATE_OUTBOUND__RELAY_HOST="127.0.0.1",
                   COMMGATE_OUTBOUND__RELAY_PORT=str(sink.port),
                   COMMGATE_OUTBOUND__RATE_LIMIT_PER_RECIPIENT="2")
    with unit_of_work(app.sessions) as s:
        assert suppress(s, project_id=app.project_ids["demo"], address="Robot@Client.example.cn",
                        reason="auto-reply", now=clock.now)
        assert not suppress(s, project_id=app.project_ids["demo"],
                            address="robot@client.example.cn", reason="again", now=clock.now)
    only_robot = _queue(app, "r", to=("robot@client.example.cn",))
    assert _row(app, only_robot).state == "failed"
    for i in range(3):
        _queue(app, f"k{i}", subject=f"s{i}")
    deliver_due(app, now=clock.now)
    assert len(sink.handler.received) == 2
    states = sorted(_row(app, pk).state for pk in range(1, 5))
    assert states == ["failed", "retry", "sent", "sent"]
    with unit_of_work(app.sessions) as s:
        waiting = s.scalars(select(OutboxMail).where(OutboxMail.subject == "s2")).one()
        assert waiting.recipients[0].state == "pending"
        assert waiting.next_attempt_at == clock.now + timedelta(hours=1)
        pk = waiting.id
    # It waits for the next window by itself: nothing before, sent once the hour is over
    assert deliver_due(app, now=clock.advance(minutes=59)) == 0
    assert deliver_due(app, now=clock.advance(minutes=1)) == 1
    assert _row(app, pk).state == "sent"


def test_gives_up_after_the_configured_time(relay_app: App, sink: Sink, clock: FakeClock) -> None:
    sink.stop()
    pk = _queue(relay_app, "k1")
    clock.advance(hours=73)
    deliver_due(relay_app, now=clock.now)
    row = _row(relay_app, pk)
    assert row.state == "failed" and row.recipients[0].error.startswith("gave up")  # type: ignore[union-attr]


def test_record_bounce_marks_the_row(embedded_app: App, clock: FakeClock) -> None:
    pk = _queue(embedded_app, "k1", to=(CLIENT, ENGINEER))
    deliver_due(embedded_app, now=clock.now)
    mid = _row(embedded_app, pk).message_id
    with unit_of_work(embedded_app.sessions) as s:
        rows = record_bounce(s, original_message_id=mid.strip("<>"),
                             failed_recipients=[ENGINEER.upper()], now=clock.now)
        assert [r.id for r in rows] == [pk]
    row = _row(embedded_app, pk)
    assert row.bounced
    assert {r.address: r.state for r in row.recipients} == {CLIENT: "sent", ENGINEER: "bounced"}


def test_serve_delivers_queued_mail_through_its_sweep(relay_app: App, sink: Sink,
                                                      start_server: Callable[..., Any]) -> None:
    # Given a running gateway whose relay is the sink, When a mail is queued (e.g. by the CLI)
    start_server(relay_app)
    pk = _queue(relay_app, "from-cli")
    # Then the outbox sweep of `serve` delivers it, once
    wait_for(lambda: _row(relay_app, pk).state == "sent")
    assert len(sink.handler.received) == 1
