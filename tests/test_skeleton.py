"""The walking skeleton, end to end: mail in over SMTP → stored → job → communication record."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from gateway.app import App
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Record
from tests.support.mail import make_mail, wait_for

DIRECTIVE = "【指令】今晚22:00前完成核心交换机巡检"


def records(app: App) -> list[Record]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(Record).order_by(Record.id)))


def message_states(app: App) -> list[str]:
    with unit_of_work(app.sessions) as s:
        return list(s.scalars(select(Message.state).order_by(Message.id)))


def test_a_directive_sent_over_smtp_becomes_a_record(gateway_app: App,
                                                     start_server: Callable[..., object]) -> None:
    # Given a running gateway on the embedded default
    server = start_server(gateway_app)
    msg = make_mail(subject=DIRECTIVE)
    # When an engineer CCs the project address
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:  # type: ignore[attr-defined]
        refused = smtp.send_message(msg, from_addr="lina@xdyj.example.com",
                                    to_addrs=["proj-demo@gw.example.com"])
    assert refused == {}
    # Then a record appears, classified as a directive, holding that message
    found = wait_for(lambda: records(gateway_app))
    assert found[0].subject == DIRECTIVE
    assert found[0].category == "directive"
    with unit_of_work(gateway_app.sessions) as s:
        stored = s.scalars(select(Message)).one()
        assert stored.state == "processed"
        assert stored.record_id == found[0].id
        assert stored.message_id == msg["Message-ID"].strip("<>")
        raw = gateway_app.raw.get(stored.sha256)
    assert raw.startswith(b"Received: from ")
    assert msg["Message-ID"].encode() in raw


def test_a_stranger_recipient_is_refused_and_nothing_is_stored(
        gateway_app: App, start_server: Callable[..., object]) -> None:
    server = start_server(gateway_app)
    port = server.smtp_port  # type: ignore[attr-defined]
    with smtplib.SMTP("127.0.0.1", port) as smtp, \
            pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        smtp.send_message(make_mail(subject="relay?"), from_addr="x@evil.example",
                          to_addrs=["victim@elsewhere.example"])
    code, text = refused.value.recipients["victim@elsewhere.example"]
    assert code == 550 and b"5.1.1" in text
    with unit_of_work(gateway_app.sessions) as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_a_message_accepted_with_250_is_stored_even_when_no_worker_runs(
        gateway_app: App, start_server: Callable[..., object]) -> None:
    # Given a front end whose workers are not running
    server = start_server(gateway_app, run_workers=False)
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:  # type: ignore[attr-defined]
        smtp.send_message(make_mail(subject=DIRECTIVE), to_addrs=["proj-demo@gw.example.com"])
    # Then the message is in the database, waiting
    assert message_states(gateway_app) == ["received"]
    assert records(gateway_app) == []
    server.stop()  # type: ignore[attr-defined]
    # When a gateway with workers starts, its start-up sweep processes it
    start_server(gateway_app)
    wait_for(lambda: records(gateway_app))
    assert message_states(gateway_app) == ["processed"]


def test_the_same_message_twice_is_one_message_with_two_arrivals(
        gateway_app: App, start_server: Callable[..., object]) -> None:
    server = start_server(gateway_app)
    msg = make_mail(subject=DIRECTIVE)
    for _ in range(2):
        with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:  # type: ignore[attr-defined]
            smtp.send_message(msg, to_addrs=["proj-demo@gw.example.com"])
    wait_for(lambda: records(gateway_app))
    with unit_of_work(gateway_app.sessions) as s:
        stored = s.scalars(select(Message)).one()
        assert [a.channel for a in stored.arrivals] == ["smtp", "smtp"]


def test_a_reply_joins_the_record_of_its_thread(gateway_app: App,
                                               start_server: Callable[..., object]) -> None:
    server = start_server(gateway_app)
    first = make_mail(subject=DIRECTIVE)
    reply = make_mail(subject="回复：" + DIRECTIVE, sender="liuyang@xdyj.example.com",
                      to="lina@xdyj.example.com", body="收到，今晚完成。\n",
                      in_reply_to=first["Message-ID"])
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:  # type: ignore[attr-defined]
        smtp.send_message(first, to_addrs=["proj-demo@gw.example.com"])
        smtp.send_message(reply, to_addrs=["proj-demo@gw.example.com"])
    wait_for(lambda: message_states(gateway_app) == ["processed", "processed"])
    found = records(gateway_app)
    assert len(found) == 1
    assert found[0].message_count == 2
