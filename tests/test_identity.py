"""A message's identity: the same mail seen twice is one message; different mail never is."""

from __future__ import annotations

from gateway.identity import identify


def test_trace_headers_do_not_change_identity() -> None:
    body = b"Subject: hi\r\nFrom: a@b.example\r\n\r\nbody\r\n"
    relayed = b"Received: from mx by gw; Tue, 24 Nov 2026 10:00:00 +0000\r\n" \
              b"Return-Path: <a@b.example>\r\n" + body
    assert identify(body) == identify(relayed)
    assert identify(body).synthetic


def test_messages_without_any_id_or_body_are_told_apart_by_their_headers() -> None:
    one = identify(b"X-Note: first\r\n")
    two = identify(b"X-Note: second\r\n")
    assert one.message_id != two.message_id


def test_message_id_is_normalised() -> None:
    ident = identify(b"Message-ID: <Abc.123@Mail.Example.COM>\r\n\r\nx")
    assert ident.message_id == "Abc.123@mail.example.com"
    assert not ident.synthetic
