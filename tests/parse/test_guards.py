"""Hostile structure is quarantined from the raw bytes, fast, before the stdlib parser sees it."""

from __future__ import annotations

import pytest

from gateway.errors import Quarantine
from gateway.parse import ParseLimits, parse_message
from gateway.parse.guards import Deadline


def nested_multiparts(depth: int) -> bytes:
    head = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'
                   for i in range(depth))
    tail = "".join(f"\r\n--b{i}--" for i in reversed(range(depth)))
    return (head + "Content-Type: text/plain\r\n\r\ndeep" + tail + "\r\n").encode()


def sibling_parts(count: int) -> bytes:
    parts = "".join(f"--s\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(count))
    return f'Content-Type: multipart/mixed; boundary="s"\r\n\r\n{parts}--s--\r\n'.encode()


def many_addresses(count: int) -> bytes:
    to = ", ".join(f"user{i} <u{i}@example.cn>" for i in range(count))
    return f"From: a@example.cn\r\nTo: {to}\r\nSubject: x\r\n\r\nbody\r\n".encode()


def nested_rfc822(depth: int) -> bytes:
    return ("Content-Type: message/rfc822\r\n\r\n" * depth + "Subject: inner\r\n\r\nx").encode()


def many_headers(count: int) -> bytes:
    return ("".join(f"X-H{i}: v\r\n" for i in range(count)) + "\r\nbody").encode()


HOSTILE = [
    ("1,000 nested multiparts", nested_multiparts(1_000), "boundaries"),
    ("5,000 nested multiparts", nested_multiparts(5_000), "boundaries"),
    ("100 nested multiparts", nested_multiparts(100), "nesting"),
    ("20,000 addresses in To", many_addresses(20_000), "address"),
    ("10,000 sibling parts", sibling_parts(10_000), "parts"),
    ("2,000 nested message/rfc822", nested_rfc822(2_000), "rfc822"),
    ("5,000 header fields", many_headers(5_000), "fields"),
]


@pytest.mark.parametrize(("name", "raw", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
@pytest.mark.timeout(60)  # a hang guard; the guards' speed is measured, not asserted
def test_hostile_structure_is_quarantined_before_the_stdlib_parser_sees_it(
        name: str, raw: bytes, reason: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def stdlib_parser(_raw: bytes) -> None:
        raise AssertionError("the stdlib parser was reached")

    monkeypatch.setattr("gateway.parse.message.parse_bytes", stdlib_parser)
    with pytest.raises(Quarantine) as caught:
        parse_message(raw)
    assert reason in str(caught.value).lower()
    assert caught.value.stage == "parse"


def test_reasonable_structure_passes() -> None:
    assert parse_message(nested_multiparts(10)).text == "deep"
    assert len(parse_message(many_addresses(300)).to) == 300
    assert parse_message(sibling_parts(100)).text.startswith("part 0")


def test_size_limit() -> None:
    with pytest.raises(Quarantine, match="over the 1000 limit"):
        parse_message(b"Subject: x\r\n\r\n" + b"a" * 2000,
                      limits=ParseLimits(max_message_bytes=1000))


def test_time_budget_quarantines_a_slow_parse() -> None:
    with pytest.raises(Quarantine, match="longer than"):
        parse_message(sibling_parts(50), limits=ParseLimits(time_budget_s=0.0))
    deadline = Deadline(60)
    deadline.check("still fine")


def test_non_bytes_input_is_quarantined_not_crashed() -> None:
    with pytest.raises(Quarantine):
        parse_message("text, not bytes")  # type: ignore[arg-type]
