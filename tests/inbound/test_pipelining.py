"""PIPELINING (RFC 2920): advertised, answered in order, and replies grouped without ever
holding one back while the listener waits for the client."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest

from gateway.app import App
from tests.inbound.wire import DEMO, Wire, stored_messages


def body(n: int) -> bytes:
    return (f"From: lina@xdyj.example.com\r\nSubject: pipelined {n}\r\n"
            f"Message-ID: <pipe-{n}@xdyj.example.com>\r\n\r\nhello\r\n.\r\n").encode()


@pytest.mark.parametrize("mode,greeting", [("smtp", "EHLO"), ("lmtp", "LHLO")])
def test_pipelining_is_advertised(make_app: Callable[..., App], listen: Callable[..., int],
                                  mode: str, greeting: str) -> None:
    port = listen(make_app(COMMGATE_SMTP__MODE=mode))
    with Wire(port) as wire:
        code, text = wire.command(f"{greeting} client.example")
    assert code == 250 and b"PIPELINING" in text.split(b"\n")


def test_a_pipelined_envelope_is_answered_in_order_in_one_write(
        app: App, listen: Callable[..., int], stream_writes: list[bytes]) -> None:
    writes = stream_writes
    port = listen(app)
    with Wire(port) as wire:
        assert wire.command("EHLO client.example")[0] == 250
        # One write for the whole multi-line EHLO reply
        assert next(w for w in writes if b"PIPELINING" in w).endswith(b"250 HELP\r\n")
        wire.send(f"MAIL FROM:<lina@xdyj.example.com>\r\nRCPT TO:<{DEMO}>\r\n"
                  "RCPT TO:<nobody@elsewhere.example>\r\nDATA\r\n".encode())
        assert [wire.reply()[0] for _ in range(4)] == [250, 250, 550, 354]
        wire.send(body(1))
        assert wire.reply()[0] == 250
    # The refusal is sent at once with the replies held before it; the 354 flushes the rest
    grouped = [w for w in writes if w.startswith(b"250 OK\r\n")]
    assert grouped == [b"250 OK\r\n250 2.1.5 OK\r\n" + grouped[0].split(b"\r\n")[2] + b"\r\n"]
    assert grouped[0].split(b"\r\n")[2].startswith(b"550")
    assert any(w.startswith(b"354") for w in writes)
    assert len(stored_messages(app)) == 1


def test_a_reply_is_not_held_while_the_next_command_is_incomplete(
        app: App, listen: Callable[..., int]) -> None:
    port = listen(app)
    with Wire(port, timeout=5) as wire:
        assert wire.command("EHLO client.example")[0] == 250
        # The next command has begun but its line has not ended: the listener will wait for
        # it, so the MAIL reply must go out now
        wire.send(b"MAIL FROM:<lina@xdyj.example.com>\r\nRCPT TO:<proj-d")
        assert wire.reply()[0] == 250
        wire.send(b"emo@gw.example.com>\r\n")
        assert wire.reply()[0] == 250


def test_a_message_and_the_next_envelope_pipelined_after_its_data(
        app: App, listen: Callable[..., int]) -> None:
    port = listen(app)
    with Wire(port) as wire:
        assert wire.command("EHLO client.example")[0] == 250
        for n in range(3):
            wire.send(f"MAIL FROM:<lina@xdyj.example.com>\r\nRCPT TO:<{DEMO}>\r\n"
                      "DATA\r\n".encode())
            assert [wire.reply()[0] for _ in range(3)] == [250, 250, 354]
            # The end of data and the next commands in one segment: the 250 for the message
            # may wait for them, never past them
            wire.send(body(n) + (b"NOOP\r\n" if n < 2 else b"QUIT\r\n"))
            assert wire.reply()[0] == 250
            assert wire.reply()[0] == (250 if n < 2 else 221)
        with pytest.raises((ConnectionError, socket.timeout)):
            wire.reply()
    assert len(stored_messages(app)) == 3
