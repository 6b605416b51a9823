"""MIME bombs over SMTP: stored, then quarantined with a reason; the listener keeps serving.

Deep nesting, thousands of parts, nested message/rfc822 and a ``To:`` with 20,000 addresses are
accepted (stored durably: the bytes are the evidence) and quarantined by the parse guards
(gateway/parse/guards.py) with a reason naming the limit. While they are sent and processed,
another client gets its ordinary mail through. Oversized base64 is refused at DATA with 552.
No timing thresholds: only outcomes.
"""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable
from email.message import EmailMessage

import pytest

from gateway.app import App
from tests.security.bombs import (
    deep_nesting,
    many_addresses,
    many_parts,
    nested_rfc822,
    with_attachment,
)
from tests.security.helpers import LINA, PROJECT, messages, send, settled
from tests.support.mail import make_mail

BOMBS = {
    "deep-1000@xdyj.example.com": (deep_nesting(1_000), "boundar"),
    "deep-100@xdyj.example.com": (deep_nesting(100), "nest"),
    "parts-10000@xdyj.example.com": (many_parts(10_000), "parts"),
    "rfc822-2000@xdyj.example.com": (nested_rfc822(2_000), "rfc822"),
    "to-20000@xdyj.example.com": (many_addresses(20_000), "address"),
}


def test_bombs_are_quarantined_with_a_reason_while_others_are_served(
        app: App, serve: Callable[..., int]) -> None:
    port = serve(app)
    errors: list[BaseException] = []

    def bomber() -> None:
        try:
            for raw, _reason in BOMBS.values():
                send(port, raw)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=bomber)
    thread.start()
    ordinary: list[EmailMessage] = []
    for number in range(3):  # meanwhile, an ordinary client
        mail = make_mail(subject=f"日常沟通 {number}", body="今天的巡检已完成。\n")
        send(port, mail)
        ordinary.append(mail)
    thread.join()
    assert errors == []
    stored = {m.message_id: m for m in settled(app, len(BOMBS) + len(ordinary))}
    for message_id, (_raw, reason) in BOMBS.items():
        bomb = stored[message_id]
        assert bomb.state == "quarantined", (message_id, bomb.state)
        assert bomb.error and reason in bomb.error.lower(), (message_id, bomb.error)
    for mail in ordinary:
        assert stored[str(mail["Message-ID"]).strip("<>")].state == "processed"


@pytest.fixture
def small_app(make_app: Callable[..., App]) -> App:
    return make_app(COMMGATE_SMTP__MAX_MESSAGE_SIZE=str(2 * 1024 * 1024))


def test_oversized_base64_is_refused_at_data_and_a_large_one_is_kept_whole(
        small_app: App, serve: Callable[..., int]) -> None:
    port = serve(small_app)
    huge = with_attachment("huge", "huge@xdyj.example.com", "huge.bin",
                           "application/octet-stream", bytes(3 * 1024 * 1024))
    with smtplib.SMTP("127.0.0.1", port) as smtp, pytest.raises(smtplib.SMTPException) as caught:
        smtp.sendmail(LINA, [PROJECT], huge)
    code = getattr(caught.value, "smtp_code", None) or \
        next(iter(getattr(caught.value, "recipients", {}).values()), (None,))[0]
    assert code == 552, caught.value
    assert messages(small_app) == []
    # one line of base64 longer than 998 octets is refused as well (RFC 5322 §2.1.1)
    one_line = with_attachment("line", "line@xdyj.example.com", "l.bin",
                               "application/octet-stream", bytes(4096))
    one_line = one_line.replace(b"\r\nAAAA", b"AAAA")
    with smtplib.SMTP("127.0.0.1", port) as smtp, pytest.raises(smtplib.SMTPException):
        smtp.sendmail(LINA, [PROJECT], one_line)
    # just under the limit: stored and processed, the attachment kept at its size
    large = with_attachment("large", "large@xdyj.example.com", "large.bin",
                            "application/octet-stream", bytes(1024 * 1024))
    send(port, large)
    stored = settled(small_app, 1)
    assert [m.state for m in stored] == ["processed"], stored[0].error
