"""Whatever bytes a client sends, it gets the right reply and the listener keeps serving.

Hypothesis generates message data — random bytes, and line soup rich in CR, LF, NUL, dots and
over-long lines — which is sent correctly dot-stuffed, so the only end of data is ours. The
oracle: bare CR/LF or NUL → ``550 5.5.2``; else a line over 998 octets → ``500``; else →
``250`` with exactly those bytes stored. Clients that vanish mid-DATA store nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.app import App
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from tests.inbound.wire import Wire, stored_messages, without_trace

LONG_LINE = re.compile(rb"[^\r\n]{999}")
PIECES = st.sampled_from([b"\r\n", b"\n", b"\r", b"\x00", b".", b"\r\n.\r\n", b"\r\n..",
                          b"\xe4\xbd\xa0\xe5\xa5\xbd", b"\xff\xfe", b"Subject: x\r\n",
                          b"a" * 997, b"b" * 1000])
MESSAGE_DATA = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.one_of(st.binary(max_size=40), PIECES), max_size=40).map(b"".join),
)


def stuff(data: bytes) -> bytes:
    """RFC 5321 §4.5.2 transparency, as a correct client applies it."""
    data = data.replace(b"\r\n.", b"\r\n..")
    return b"." + data if data.startswith(b".") else data


def expected_code(content: bytes) -> int:
    pairs = content.count(b"\r\n")
    if content.count(b"\r") != pairs or content.count(b"\n") != pairs or b"\0" in content:
        return 550
    if LONG_LINE.search(content):
        return 500
    return 250


def raw_of(app: App, pk: int) -> bytes:
    with unit_of_work(app.sessions) as session:
        sha = session.scalars(select(Message.sha256).where(Message.id == pk)).one()
    return app.raw.get(sha)


def test_generated_data_gets_the_right_reply(app: App, listen: Callable[..., int]) -> None:
    port = listen(app)
    sent = iter(range(1_000_000))

    @settings(max_examples=50, deadline=None)
    @given(data=MESSAGE_DATA)
    def send(data: bytes) -> None:
        # A unique last line keeps examples apart: intake would rightly treat two identical
        # id-less messages as one mail arriving twice.
        content = data + b"\r\n\r\nexample %d\r\n" % next(sent)
        with Wire(port) as wire:
            wire.envelope()
            code, text = wire.data(stuff(content) + b".\r\n")
            assert code == expected_code(content), (code, text)
            if code == 250:
                pk = int(text.rsplit(b" ", 1)[1])
                assert without_trace(raw_of(app, pk)) == content
            assert wire.command("NOOP")[0] == 250  # the same session goes on

    send()


def test_clients_vanishing_mid_data_store_nothing(app: App, listen: Callable[..., int]) -> None:
    port = listen(app)

    @settings(max_examples=30, deadline=None)
    @given(data=MESSAGE_DATA)
    def vanish(data: bytes) -> None:
        with Wire(port) as wire:
            wire.envelope()
            assert wire.command("DATA")[0] == 354
            wire.send(stuff(data)[:-1] if data else b"x")  # never the end of data
        # Another client is served normally
        with Wire(port) as other:
            assert other.command("NOOP")[0] == 250

    vanish()
    assert stored_messages(app) == []
