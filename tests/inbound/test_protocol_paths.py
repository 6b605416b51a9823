"""The listener's fast MAIL/RCPT path parse gives exactly what aiosmtpd's own parse gives."""

from __future__ import annotations

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.inbound.protocol import GatewaySMTP


def _parsers(limit: int = 0) -> tuple[GatewaySMTP, SMTP]:
    ours = GatewaySMTP.__new__(GatewaySMTP)
    stock = SMTP.__new__(SMTP)
    ours.local_part_limit = stock.local_part_limit = limit
    return ours, stock


def _answer(parser: SMTP, arg: str) -> object:
    """The parse, or the exception it raises (aiosmtpd's raises IndexError on a lone "<")."""
    try:
        return parser._getaddr(arg)
    except Exception as exc:  # noqa: BLE001 - compared, not handled
        return type(exc)


@pytest.mark.parametrize("arg", [
    "<a@b.c>", "<a@b.c> SIZE=100", "<a@b.c>  BODY=8BITMIME SMTPUTF8", "<a@b.c>\t SIZE=1",
    "<a@b.c> SIZE=1 ", "<a@b.c>  ", "<a@b.c> (comment) SIZE=1", "<a@b.c>(c)", "<a@b.c>x",
    "<a@b.c>\r SIZE=1", "<A+x.y@B-c.example>", "<>", "<> SIZE=5", "a@b.c", "<\"q\"@b>",
    "<a@[192.0.2.1]>", "<a..b@c>", "<a@b..c>", "<.a@b>", "<a@b.>", "<a@b", "<a b@c>",
    "< a@b.c >", "<@relay.example:a@b.c>", "<proj-demo+r-abc.def@gw.example.com>",
    "<用户@例子.中国>", "",
])
def test_same_answer_as_aiosmtpd_on_known_forms(arg: str) -> None:
    ours, stock = _parsers()
    assert _answer(ours, arg) == _answer(stock, arg)


def test_local_part_limit_is_kept() -> None:
    ours, stock = _parsers(limit=3)
    for arg in ("<abc@b.c>", "<abcd@b.c>", "<abcd@b.c> SIZE=1"):
        assert _answer(ours, arg) == _answer(stock, arg)
    assert ours._getaddr("<abcd@b.c>") == (None, None)


_PIECES = st.sampled_from(["a", "Z", "0", ".", "@", "<", ">", " ", "\t", "(", ")", "\"", "+",
                           "-", "_", "!", "[", "]", ":", ",", "\\", "=", "\r", "é", "SIZE=1"])


@settings(max_examples=3000, deadline=None)
@given(st.lists(_PIECES, max_size=14).map("".join))
def test_same_answer_as_aiosmtpd_on_generated_paths(arg: str) -> None:
    ours, stock = _parsers()
    assert _answer(ours, arg) == _answer(stock, arg)


@settings(max_examples=1000, deadline=None)
@given(st.from_regex(r"\A<[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,8}@[a-z0-9._-]{1,8}>[ \t]*(SIZE=\d)?\Z"))
def test_same_answer_on_generated_mailboxes(arg: str) -> None:
    ours, stock = _parsers()
    assert _answer(ours, arg) == _answer(stock, arg)
