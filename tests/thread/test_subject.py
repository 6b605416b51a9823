"""Subject normalisation, record codes and Outlook Thread-Index: the cheap evidence."""

from __future__ import annotations

import base64

import pytest

from gateway.thread.evidence import (
    is_reply_subject,
    normalize_subject,
    record_code,
    thread_index_key,
)


@pytest.mark.parametrize(("subject", "key"), [
    ("周报", "周报"),
    ("Re: 周报", "周报"),
    ("RE: re: Re:Re: 周报", "周报"),
    ("Fwd: FW: 周报", "周报"),
    ("AW: WG: Projekt", "projekt"),
    ("TR: Réunion", "réunion"),
    ("回复：回复：周报", "周报"),
    ("回复: 答复：转发：周报", "周报"),
    ("Re[2]: Re(3): 周报", "周报"),
    ("[proj-demo] Re: [proj-demo] 周报", "周报"),
    ("Re: [proj-demo] 回复：AW: Re[2]: 周报", "周报"),
    ("回复　：　周报", "周报"),  # full-width space and colon
    ("ＲＥ：周报", "周报"),  # full-width letters
    ("Re:  many   spaces\there ", "many spaces here"),
    ("[demo#R42] 变更通知", "变更通知"),
    ("回复：变更通知 [demo#R42]", "变更通知"),
    ("Re: [Fwd: status] (fwd)", "status"),
    ("[PATCH v2] erofs: fix", "erofs: fix"),
    ("Re: [PATCH]", "[patch]"),  # RFC 5256: a blob is never stripped down to nothing
    ("Resolved: ticket", "resolved: ticket"),  # "Re" must be followed by a colon
    ("Regarding 周报", "regarding 周报"),
    ("", ""),
])
def test_normalize_subject(subject: str, key: str) -> None:
    assert normalize_subject(subject) == key


@pytest.mark.parametrize(("subject", "reply"), [
    ("Re: x", True), ("回复：x", True), ("答复: x", True), ("AW: x", True), ("Re[2]: x", True),
    ("Fwd: x", False), ("转发：x", False), ("FW: x", False), ("x", False), ("[list] Re: x", True),
    ("Fwd: Re: x", True),
])
def test_reply_prefix_is_told_from_forward(subject: str, reply: bool) -> None:
    assert is_reply_subject(subject) is reply


def test_record_code_belongs_to_the_project() -> None:
    assert record_code("[demo#R42] 变更通知", "demo") == 42
    assert record_code("回复：［demo＃R7］ 变更通知", "demo") == 7  # full-width brackets
    assert record_code("Re: [DEMO # r9] x", "demo") == 9
    assert record_code("[other#R42] x", "demo") is None
    assert record_code("[demo#R42] x", None) is None
    assert record_code("demo#R42 without brackets", "demo") is None


def test_thread_index_first_22_bytes_name_the_conversation() -> None:
    header = bytes(range(22))
    first = base64.b64encode(header).decode()
    reply = base64.b64encode(header + b"\x01\x02\x03\x04\x05").decode()
    assert thread_index_key(first) == (first, False)
    assert thread_index_key(reply) == (first, True)
    assert thread_index_key(reply[:10] + "\r\n " + reply[10:]) == (first, True)  # folded
    assert thread_index_key("not base64 !!") is None
    assert thread_index_key(base64.b64encode(b"short").decode()) is None
    assert thread_index_key(None) is None
