"""LMTP mode (RFC 2033), so Postfix or Exim can hand mail over: one reply per recipient."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import update

from gateway.app import App
from gateway.notify.tokens import make_reply_address
from gateway.store.db import unit_of_work
from gateway.store.models import Project
from tests.inbound.wire import DEMO, OPS, arrivals, stored_messages, stored_raw

MAIL = (b"From: lina@xdyj.example.com\r\nSubject: handed over by Postfix\r\n"
        b"Message-ID: <lmtp-1@xdyj.example.com>\r\n\r\nhello\r\n")


@pytest.fixture
def lmtp_app(make_app: Callable[..., App]) -> App:
    return make_app(COMMGATE_SMTP__MODE="lmtp")


def lmtp(port: int) -> smtplib.LMTP:
    client = smtplib.LMTP("127.0.0.1", port)
    client.ehlo_or_helo_if_needed()  # sends LHLO
    return client


def test_an_mta_delivers_over_lmtp(lmtp_app: App, listen: Callable[..., int]) -> None:
    with lmtp(listen(lmtp_app)) as client:
        assert client.sendmail("lina@xdyj.example.com", [DEMO], MAIL) == {}
    assert [a.channel for a in arrivals(lmtp_app)] == ["lmtp"]
    assert b"with LMTP" in stored_raw(lmtp_app)[0].split(b"\r\n\r\n")[0]


def test_each_recipient_gets_its_own_reply_after_data(lmtp_app: App,
                                                      listen: Callable[..., int]) -> None:
    # Given a valid reply address for a demo receipt
    reply_to = make_reply_address(lmtp_app.settings, "demo", 7,
                                  expires=lmtp_app.clock() + timedelta(days=3))
    with lmtp(listen(lmtp_app)) as client:
        client.mail("lina@xdyj.example.com")
        assert client.rcpt(DEMO)[0] == 250
        assert client.rcpt("stranger@gw.example.com")[0] == 550  # refused at RCPT already
        assert client.rcpt(OPS)[0] == 250
        assert client.rcpt(reply_to)[0] == 250
        # and project ops is closed between its RCPT and the data (the commit checks again)
        with unit_of_work(lmtp_app.sessions) as session:
            session.execute(update(Project).where(Project.code == "ops")
                            .values(intake_open=False))
        # When the data is sent, Then one reply per accepted recipient, in RCPT order
        replies = [client.data(MAIL), client.getreply(), client.getreply()]
    assert [code for code, _ in replies] == [250, 550, 250]
    assert replies[1][1].startswith(b"5.7.1")
    # The demo copy is stored once, with both of its recipients on the arrival
    assert len(stored_messages(lmtp_app)) == 1
    assert arrivals(lmtp_app)[0].envelope_to == [DEMO, reply_to]


def test_an_oversized_message_is_refused_for_every_recipient(
        make_app: Callable[..., App], listen: Callable[..., int]) -> None:
    app = make_app(COMMGATE_SMTP__MODE="lmtp", COMMGATE_SMTP__MAX_MESSAGE_SIZE="1000")
    with lmtp(listen(app)) as client:
        client.mail("lina@xdyj.example.com")
        client.rcpt(DEMO)
        client.rcpt(OPS)
        replies = [client.data(MAIL + b"x" * 990 + b"\r\n" * 5), client.getreply()]
        assert client.noop()[0] == 250  # still in step with the server
    assert [code for code, _ in replies] == [552, 552]
    assert stored_messages(app) == []


def test_smtp_greetings_are_not_lmtp(lmtp_app: App, listen: Callable[..., int]) -> None:
    with smtplib.SMTP("127.0.0.1", listen(lmtp_app)) as client:
        assert client.ehlo("mta.example")[0] == 500
        assert client.helo("mta.example")[0] == 500
