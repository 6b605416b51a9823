"""A raw SMTP/LMTP client for tests that must control every byte (smuggling, fuzzing), and
small read-back helpers for what intake stored."""

from __future__ import annotations

import socket
from types import TracebackType

from sqlalchemy import select

from gateway.app import App
from gateway.store.db import unit_of_work
from gateway.store.models import Arrival, Message

DEMO = "proj-demo@gw.example.com"
OPS = "proj-ops@gw.example.com"


class Wire:
    """One connection; ``command()`` sends a line and returns the reply (code, text)."""

    def __init__(self, port: int, *, timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> tuple[int, bytes]:
        """One (possibly multi-line) reply."""
        lines: list[bytes] = []
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            lines.append(line[4:].rstrip(b"\r\n"))
            if line[3:4] != b"-":
                return int(line[:3]), b"\n".join(lines)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, line: str | bytes) -> tuple[int, bytes]:
        self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.reply()

    def envelope(self, *rcpts: str, helo: str = "EHLO client.example") -> None:
        assert self.command(helo)[0] == 250
        assert self.command("MAIL FROM:<lina@xdyj.example.com>")[0] == 250
        for rcpt in rcpts or (DEMO,):
            code, text = self.command(f"RCPT TO:<{rcpt}>")
            assert code == 250, text

    def data(self, payload: bytes) -> tuple[int, bytes]:
        """Send DATA, then ``payload`` exactly as given (it must carry its own end)."""
        code, text = self.command("DATA")
        assert code == 354, text
        self.send(payload)
        return self.reply()

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def stored_messages(app: App) -> list[Message]:
    with unit_of_work(app.sessions) as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def arrivals(app: App) -> list[Arrival]:
    with unit_of_work(app.sessions) as session:
        return list(session.scalars(select(Arrival).order_by(Arrival.id)))


def stored_raw(app: App) -> list[bytes]:
    return [app.raw.get(m.sha256) for m in stored_messages(app)]


def without_trace(raw: bytes) -> bytes:
    """The stored bytes minus the Received field the listener prepended."""
    assert raw.startswith(b"Received: from ")
    end = raw.index(b"\r\n", raw.index(b";\r\n\t") + 3)
    return raw[end + 2:]
