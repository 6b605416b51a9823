"""SMTP smuggling (CVE-2023-51764/51765/51766, aiosmtpd CVE-2024-27305): one session, one message.

An attacker ends DATA with something a lax server takes for ``<CRLF>.<CRLF>`` and appends a
second, forged transaction. Here every such ending is content: the session gets exactly one
reply, and a message with bare ``<CR>``/``<LF>`` or NUL is refused outright, as Postfix does.
The vectors are inline so the project tests this on its own; the shared corpus, when present,
adds the published lists.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.app import App
from tests.inbound.wire import DEMO, Wire, stored_messages, stored_raw

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpora" / "smtp-smuggling"

# End-of-data look-alikes (hannob/smtpsmug, suuhm/smtp_smuggling_checker).
INLINE_BAD_ENDS = [b"\n.\n", b"\r.\r", b"\r.\n", b"\n.\r", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n",
                   b"\r\n.\r", b"\r\n\x00.\r\n", b"\r\n.\x00\r\n", b"\n\n.\r\n", b"\r\n."]

OUTER = (b"From: lina@xdyj.example.com\r\nTo: proj-demo@gw.example.com\r\n"
         b"Subject: outer\r\nMessage-ID: <outer@xdyj.example.com>\r\n\r\nHello")
SMUGGLED = (b"MAIL FROM:<ceo@xdyj.example.com>\r\nRCPT TO:<proj-demo@gw.example.com>\r\nDATA\r\n"
            b"From: ceo@xdyj.example.com\r\nSubject: smuggled\r\n"
            b"Message-ID: <smuggled@evil.example>\r\n\r\nSMUGGLED\r\n")


def corpus_vectors() -> list[bytes]:
    path = CORPUS / "vectors.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    ends = list(data["bad_ends_hannob_smtpsmug"].values())
    ends += data["bad_ends_suuhm_smtp_smuggling_checker"]
    return sorted({end.encode("latin-1") for end in ends})


def assert_one_reply_then_quiet(wire: Wire) -> tuple[int, bytes]:
    code, text = wire.reply()
    wire.sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        wire.sock.recv(1)  # no second reply queued: the session was not split
    wire.sock.settimeout(20)
    assert wire.command("QUIT")[0] == 221
    return code, text


def smuggle(port: int, bad_end: bytes) -> tuple[int, bytes]:
    with Wire(port) as wire:
        wire.envelope()
        assert wire.command("DATA")[0] == 354
        wire.send(OUTER + bad_end + SMUGGLED + b"\r\n.\r\n")
        return assert_one_reply_then_quiet(wire)


def check_not_split(app: App, code: int, text: bytes) -> None:
    messages = stored_messages(app)
    assert all(m.message_id != "smuggled@evil.example" for m in messages)
    if code == 250:  # taken as content: one message holding both parts
        assert len(messages) == 1 and b"SMUGGLED" in stored_raw(app)[0]
    else:
        assert (code, text[:5]) == (550, b"5.5.2") and messages == []


@pytest.mark.parametrize("bad_end", INLINE_BAD_ENDS, ids=repr)
def test_a_fake_end_of_data_never_splits_the_session(app: App, listen: Callable[..., int],
                                                    bad_end: bytes) -> None:
    code, text = smuggle(listen(app), bad_end)
    check_not_split(app, code, text)


def test_the_published_vectors_never_split_the_session(app: App,
                                                       listen: Callable[..., int]) -> None:
    vectors = corpus_vectors()
    if not vectors:
        pytest.skip(f"shared corpus not present at {CORPUS}")
    port = listen(app)
    for bad_end in vectors:
        code, text = smuggle(port, bad_end)
        assert all(m.message_id != "smuggled@evil.example" for m in stored_messages(app)), \
            bad_end
        assert code in (250, 550), (bad_end, code, text)


def test_the_aiosmtpd_regression_bytes_are_refused_as_one_message(
        app: App, listen: Callable[..., int]) -> None:
    path = CORPUS / "aiosmtpd_smuggling_data.bin"
    if not path.exists():
        pytest.skip(f"shared corpus not present at {CORPUS}")
    with Wire(listen(app)) as wire:
        wire.envelope()
        assert wire.command("DATA")[0] == 354
        wire.send(path.read_bytes())
        # "Testing\n.\r\nNO SMUGGLING" is one message with a bare LF: refused as a whole
        code, text = assert_one_reply_then_quiet(wire)
    assert (code, text[:5]) == (550, b"5.5.2")
    assert stored_messages(app) == []


@pytest.mark.parametrize("payload", [
    b"Subject: bare LF\nMessage-ID: <a@x.example>\r\n\r\nbody\r\n",
    b"Subject: bare CR\rMessage-ID: <a@x.example>\r\n\r\nbody\r\n",
    b"Subject: NUL\r\nMessage-ID: <a@x.example>\r\n\r\nbo\x00dy\r\n",
    b"Subject: CR CR LF\r\n\r\nbody\r\r\n",
], ids=["bare-LF", "bare-CR", "NUL", "CR-CR-LF"])
def test_bare_line_endings_and_nul_are_refused(app: App, listen: Callable[..., int],
                                              payload: bytes) -> None:
    with Wire(listen(app)) as wire:
        wire.envelope()
        code, text = wire.data(payload + b".\r\n")
        assert (code, text[:5]) == (550, b"5.5.2")
        # The session stays usable for the next, clean message
        wire.envelope(helo="RSET")
        eight_bit = "Subject: clean\r\n\r\n你好, 8-bit is fine\r\n.\r\n".encode()
        assert wire.data(eight_bit)[0] == 250
    assert len(stored_messages(app)) == 1


def test_a_message_for_the_project_cannot_be_smuggled_in_over_lmtp_either(
        make_app: Callable[..., App], listen: Callable[..., int]) -> None:
    app = make_app(COMMGATE_SMTP__MODE="lmtp")
    with Wire(listen(app)) as wire:
        wire.envelope(DEMO, helo="LHLO mta.example")
        assert wire.command("DATA")[0] == 354
        wire.send(OUTER + b"\n.\r\n" + SMUGGLED + b"\r\n.\r\n")
        code, text = assert_one_reply_then_quiet(wire)
    check_not_split(app, code, text)
