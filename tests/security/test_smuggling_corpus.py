"""SMTP smuggling with the published vectors (shared corpus): one session, never two messages.

Each vector is a fake end-of-data (hannob/smtpsmug, suuhm/smtp_smuggling_checker) followed by a
complete second transaction. Whatever the listener answers (250 as content, or 550 5.5.2 for
bare CR/LF/NUL), the session yields at most one stored message and never the smuggled one.
tests/inbound/test_smuggling.py covers inline vectors; this file needs the corpus.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.app import App
from tests.inbound.wire import Wire
from tests.security.helpers import messages

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "smtp-smuggling"
VECTORS = CORPUS / "vectors.json"

OUTER = (b"From: lina@xdyj.example.com\r\nTo: proj-demo@gw.example.com\r\n"
         b"Subject: outer\r\nMessage-ID: <outer-%d@xdyj.example.com>\r\n\r\nHello")
SMUGGLED = (b"MAIL FROM:<ceo@xdyj.example.com>\r\nRCPT TO:<proj-demo@gw.example.com>\r\nDATA\r\n"
            b"From: ceo@xdyj.example.com\r\nSubject: smuggled\r\n"
            b"Message-ID: <smuggled-%d@evil.example>\r\n\r\nSMUGGLED\r\n")


def vectors() -> list[bytes]:
    if not VECTORS.exists():
        return []
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    ends: list[str] = []
    for key, value in data.items():  # every list or table of bad ends the corpus publishes
        if not key.startswith("bad_ends"):
            continue
        if isinstance(value, dict):
            ends += [v for v in value.values() if isinstance(v, str)]
        elif isinstance(value, list):
            ends += [v for v in value if isinstance(v, str)]
    return sorted({end.encode("latin-1") for end in ends})


def test_no_published_vector_yields_two_messages_from_one_session(
        app: App, serve: Callable[..., int]) -> None:
    bad_ends = vectors()
    if not bad_ends:
        pytest.skip(f"smuggling corpus not present: {VECTORS}")
    port = serve(app, run_workers=False)
    for number, bad_end in enumerate(bad_ends):
        before = len(messages(app))
        with Wire(port) as wire:
            wire.envelope()
            assert wire.command("DATA")[0] == 354
            wire.send(OUTER % number + bad_end + SMUGGLED % number + b"\r\n.\r\n")
            code, text = wire.reply()
            wire.sock.settimeout(0.3)
            with pytest.raises(socket.timeout):
                wire.sock.recv(1)  # no second reply queued: the session was not split
            wire.sock.settimeout(20)
            assert wire.command("QUIT")[0] == 221
        stored = messages(app)[before:]
        assert len(stored) <= 1, (bad_end, code, text)
        assert not any(m.message_id.startswith("smuggled-") for m in stored), bad_end
        assert code in (250, 550), (bad_end, code, text)


def test_the_aiosmtpd_regression_data_is_one_message_or_none(app: App,
                                                            serve: Callable[..., int]) -> None:
    if not VECTORS.exists():
        pytest.skip(f"smuggling corpus not present: {VECTORS}")
    case = json.loads(VECTORS.read_text(encoding="utf-8"))["aiosmtpd_CVE-2024-27305_test"]
    port = serve(app, run_workers=False)
    with Wire(port) as wire:
        wire.envelope()
        assert wire.command("DATA")[0] == 354
        wire.send(case["raw_data_sent_after_DATA"].encode("latin-1"))
        code, _ = wire.reply()
        assert wire.command("QUIT")[0] == 221
    stored = messages(app)
    assert len(stored) == (1 if code == 250 else 0)
    if stored:
        assert b"NO SMUGGLING" in app.raw.get(stored[0].sha256)
