"""Fixtures for outbound mail: an App with every table, a movable clock, and a real SMTP sink.

The sink is an aiosmtpd ``Controller`` on a reserved loopback port (its threaded controller cannot
bind port 0); its handler can refuse RCPT or DATA with scripted replies, and it can be stopped and
started again on the same port to play a relay that is down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller

import gateway.store.schema  # noqa: F401 - registers every table
from gateway.app import App
from gateway.config.settings import Settings
from gateway.testing.clock import FakeClock
from tests.support.apps import app_factory
from tests.support.ports import free_port

START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Asia/Shanghai


@dataclass
class SinkHandler:
    """Records what it accepted; ``rcpt_replies``/``data_replies`` script refusals."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # address → reply (persistent)
    data_replies: list[str] = field(default_factory=list)  # consumed one per DATA

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos),
                              bytes(envelope.original_content or envelope.content)))
        return "250 Message accepted"

    def messages(self) -> list[Message]:
        return [message_from_bytes(raw, policy=default) for _f, _t, raw in self.received]


class Sink:
    def __init__(self) -> None:
        self.port = free_port()
        self.handler = SinkHandler()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    s.start()
    yield s
    s.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_app(make_settings: Callable[..., Settings], database_url: str,
             clock: FakeClock) -> Iterator[Callable[..., App]]:
    with app_factory(make_settings, database_url, clock) as make:
        yield make


@pytest.fixture
def relay_app(make_app: Callable[..., App], sink: Sink) -> App:
    """An App whose outbound relay is the sink; quick retries."""
    return make_app(COMMGATE_OUTBOUND__RELAY_HOST="127.0.0.1",
                    COMMGATE_OUTBOUND__RELAY_PORT=str(sink.port),
                    COMMGATE_OUTBOUND__TIMEOUT="5")


@pytest.fixture
def embedded_app(make_app: Callable[..., App]) -> App:
    return make_app()
