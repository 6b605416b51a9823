"""One bad sender never fails the others (issue 16, intake).

An envelope path the database cannot store — bytes that are not UTF-8 (aiosmtpd hands them over
as lone surrogates), a UTF-8-encoded surrogate, a NUL — was answered ``250``; then its shared
commit batch failed and every message in it got ``451``. Now such a path is refused at MAIL or
RCPT with a ``553``, and a message whose rows the database refuses fails alone in its batch.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.app import App
from gateway.errors import StoreError
from gateway.inbound.groupcommit import commit_batch
from gateway.inbound.intake import Accepted, prepare
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from tests.inbound.wire import DEMO, Wire, stored_messages

BAD_PATHS = [
    pytest.param(b"<\xff\xfeli@xdyj.example.com>", id="invalid-utf8"),
    pytest.param(b"<li\xed\xa0\x80@xdyj.example.com>", id="encoded-surrogate"),
    pytest.param(b"<li\x00na@xdyj.example.com>", id="nul"),
]


def mail(n: int) -> bytes:
    return (f"From: lina@xdyj.example.com\r\nSubject: 第{n}封\r\n"
            f"Message-ID: <env-{n}@xdyj.example.com>\r\n\r\nhello {n}\r\n").encode()


@pytest.mark.parametrize("mode", ["smtp", "lmtp"])
@pytest.mark.parametrize("path", BAD_PATHS)
def test_a_sender_path_the_database_cannot_store_is_refused_at_mail(
        make_app: Callable[..., App], listen: Callable[..., int], mode: str,
        path: bytes) -> None:
    app = make_app(COMMGATE_SMTP__MODE=mode)
    with Wire(listen(app)) as wire:
        assert wire.command("LHLO client.example" if mode == "lmtp" else
                            "EHLO client.example")[0] == 250
        # When the client gives a sender path holding bytes no database column takes
        code, text = wire.command(b"MAIL FROM:" + path)
        # Then it is refused at once, permanently, and the session goes on
        assert code == 553, text
        assert text.startswith(b"5.1.7")
        assert wire.command("MAIL FROM:<lina@xdyj.example.com>")[0] == 250
        assert wire.command(f"RCPT TO:<{DEMO}>")[0] == 250
        code, _ = wire.data(mail(1).replace(b"\r\n.", b"\r\n..") + b".\r\n")
        assert code == 250
    assert len(stored_messages(app)) == 1


@pytest.mark.parametrize("mode", ["smtp", "lmtp"])
@pytest.mark.parametrize("path", BAD_PATHS)
def test_a_recipient_path_the_database_cannot_store_is_refused_at_rcpt(
        make_app: Callable[..., App], listen: Callable[..., int], mode: str,
        path: bytes) -> None:
    app = make_app(COMMGATE_SMTP__MODE=mode)
    with Wire(listen(app)) as wire:
        assert wire.command("LHLO client.example" if mode == "lmtp" else
                            "EHLO client.example")[0] == 250
        assert wire.command("MAIL FROM:<lina@xdyj.example.com>")[0] == 250
        code, text = wire.command(b"RCPT TO:" + path.replace(b"xdyj.example.com",
                                                              b"gw.example.com"))
        assert 500 <= code < 600, text
        assert wire.command(f"RCPT TO:<{DEMO}>")[0] == 250


def test_a_bad_item_in_a_shared_batch_fails_alone(app: App) -> None:
    # Given a batch of three messages, the middle one with an envelope sender that is not
    # storable text (a lone surrogate, as a lenient front end would pass it on)
    items = [prepare(app, project="demo", raw=mail(n), channel="smtp",
                     envelope_from=sender, envelope_to=[DEMO])
             for n, sender in ((1, "lina@xdyj.example.com"), (2, "li\udcffna@xdyj.example.com"),
                               (3, "wangqiang@xdyj.example.com"))]
    # When they are committed together
    answers = commit_batch(app, items)
    # Then the other two are stored, and only the bad one fails
    assert isinstance(answers[0], Accepted) and isinstance(answers[2], Accepted)
    assert isinstance(answers[1], StoreError)
    with unit_of_work(app.sessions) as session:
        stored = sorted(m.message_id for m in session.query(Message))
    assert stored == ["env-1@xdyj.example.com", "env-3@xdyj.example.com"]
