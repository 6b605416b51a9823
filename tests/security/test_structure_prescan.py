"""The raw-byte prescan sees every boundary form, and deep HTML never stalls the parser
(issue 16, intake).

Before: a boundary declared as ``boundary*=`` or ``boundary*0*=`` (RFC 2231), or one longer than
200 characters, was invisible to the prescan, so 1,200 nested multiparts reached the stdlib
parser (seconds, then "too deep for the parser"); 100,000 nested ``<div>`` took 15 s of
BeautifulSoup and ran out the parse budget.
"""

from __future__ import annotations

import pytest

from gateway.errors import Quarantine
from gateway.parse import parse_message
from gateway.parse.guards import declared_boundaries, prescan
from gateway.parse.htmltext import html_to_text, too_deep
from gateway.parse.model import ParseLimits

HEAD = b"From: a@client.example.cn\r\nSubject: x\r\nMessage-ID: <m@x>\r\nMIME-Version: 1.0\r\n"


def declaration(style: str, boundary: bytes) -> bytes:
    if style == "quoted":
        return b'Content-Type: multipart/mixed; boundary="' + boundary + b'"'
    if style == "rfc2231":
        return b"Content-Type: multipart/mixed; boundary*=utf-8''" + boundary
    if style == "rfc2231-continued":
        half = len(boundary) // 2
        return (b"Content-Type: multipart/mixed;\r\n boundary*0*=''" + boundary[:half] +
                b";\r\n boundary*1=\"" + boundary[half:] + b'"')
    raise AssertionError(style)


def nested(levels: int, style: str, *, long: bool = False) -> bytes:
    body = b""
    for i in range(levels):
        boundary = b"b%d" % i + (b"x" * 250 if long else b"")
        body += declaration(style, boundary) + b"\r\n\r\n--" + boundary + b"\r\n"
    return HEAD + body + b"Content-Type: text/plain\r\n\r\nhi\r\n"


STYLES = [pytest.param("rfc2231", False, id="boundary*="),
          pytest.param("rfc2231-continued", False, id="boundary*0*="),
          pytest.param("quoted", True, id="over-200-characters")]


@pytest.mark.parametrize(("style", "long"), STYLES)
def test_deep_nesting_is_refused_by_the_prescan_whatever_the_boundary_form(
        style: str, long: bool) -> None:
    with pytest.raises(Quarantine) as caught:
        prescan(nested(60, style, long=long), ParseLimits())
    assert "multipart nesting deeper than 20 levels" in str(caught.value)


@pytest.mark.parametrize(("style", "long"), STYLES)
def test_too_many_boundaries_are_refused_by_the_prescan(style: str, long: bool) -> None:
    with pytest.raises(Quarantine) as caught:
        prescan(nested(1200, style, long=long), ParseLimits())
    assert "multipart boundaries, over the 500 limit" in str(caught.value)


def test_every_rfc2231_form_is_read_as_the_parser_reads_it() -> None:
    raw = (b"Content-Type: multipart/mixed; boundary*=us-ascii'en'a%20b\r\n"
           b"Content-Type: multipart/mixed;\r\n boundary*0*=''one%2D;\r\n boundary*1=two\r\n"
           b'Content-Type: multipart/mixed; boundary="' + b"z" * 300 + b'"\r\n')
    assert declared_boundaries(raw) == {b"a b", b"one-two", b"z" * 300}


def test_a_legitimate_rfc2231_multipart_still_parses() -> None:
    raw = (HEAD + b"Content-Type: multipart/alternative; boundary*=''alt%2D1\r\n\r\n"
           b"--alt-1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           + "收到，明白。".encode() + b"\r\n--alt-1--\r\n")
    assert parse_message(raw).own_text == "收到，明白。"


def html_mail(levels: int) -> bytes:
    html = "<div>" * levels + "请确认 &amp; 回复" + "</div>" * levels
    return (HEAD + b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html.encode() + b"\r\n")


def test_deeply_nested_html_is_flattened_not_walked() -> None:
    # Given an HTML-only mail nested 100,000 levels deep (15 s of tree building before)
    raw = html_mail(100_000)
    # When it is parsed with a tight time budget, Then it is read, not quarantined
    parsed = parse_message(raw, limits=ParseLimits(time_budget_s=3.0))
    assert parsed.text.strip() == "请确认 & 回复"


def test_only_deep_html_is_flattened() -> None:
    ordinary = "<table>" + "<tr><td><p>cell<br>" * 2000 + "</table><blockquote>q</blockquote>"
    assert not too_deep(ordinary)
    assert not too_deep("<div>" * 400 + "</div>" * 400)
    assert too_deep("<div>" * 600)
    assert "cell" in html_to_text(ordinary)
