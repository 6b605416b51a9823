"""Never an open relay: RCPT accepts project addresses and valid reply addresses, nothing else.

Every form is sent over loopback exactly as written, with ``RCPT TO:`` and no client-side
quoting, because relay tricks live in the syntax that lenient parsers quietly "repair".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from gateway.app import App
from gateway.notify.tokens import make_reply_address
from tests.inbound.wire import Wire

GOOD_TOKEN = "{token}"
ACCEPTED = [
    "<proj-demo@gw.example.com>",
    "<PROJ-DEMO@GW.EXAMPLE.COM>",                  # case-insensitive match
    "<Proj-Demo@Gw.Example.Com>",
    "<proj-ops@gw.example.com>",                   # the second project
    "<{token}>",                                   # a valid signed reply address
    "<{token_upper}>",
    "proj-demo@gw.example.com",                    # no brackets: tolerated, same mailbox
]
REFUSED = [
    "<stranger@gw.example.com>",                   # not a project
    "<postmaster@gw.example.com>",                 # postmaster is the front MTA's business
    "<postmaster>",                                # RFC 5321 §4.5.1 bare postmaster
    "<proj-demo>",                                 # no domain
    "<victim@elsewhere.example>",                  # plain relay attempt
    "<proj-demo@elsewhere.example>",               # right local part, wrong domain
    "<proj-demo@sub.gw.example.com>",
    "<proj-demo@gw.example.com.elsewhere.example>",
    "<proj-demo@gw.example.com.>",                 # trailing dot
    "<@relay.example,@gw.example.com:proj-demo@gw.example.com>",  # source route
    "<@gw.example.com:victim@elsewhere.example>",
    '<"proj-demo"@gw.example.com>',                # quoted local part
    '<"victim@elsewhere.example"@gw.example.com>',
    "<victim%elsewhere.example@gw.example.com>",   # percent hack
    "<proj-demo%gw.example.com@gw.example.com>",
    "<elsewhere.example!victim@gw.example.com>",   # bang path
    "<elsewhere!proj-demo@gw.example.com>",
    "<proj-demo@[127.0.0.1]>",                     # address literal
    "<proj-demo(comment)@gw.example.com>",         # RFC 5322 comment
    "<proj-demo@ｇｗ.example.com>",                  # full-width look-alike (IDNA maps it)
    "<proj-dem\u043e@gw.example.com>",             # Cyrillic о look-alike
    "<proj-demo@xn--gw-6kc.example.com>",          # punycode look-alike
    "<proj-demo+anything@gw.example.com>",         # an unsigned plus-tag
    "<proj-demo+r-1-abcde-aaaaaaaaaa@gw.example.com>",  # a forged token
    "<{expired}>",                                 # a token past its expiry
    "<{token_other_domain}>",
    "<proj-demo@gw.example.com,victim@elsewhere.example>",  # two addresses in one
    "<proj-demo@gw.example.com> <victim@elsewhere.example>",
    "<>",                                          # the null path is for senders only
    "<proj..demo@gw.example.com>",
]


@pytest.fixture
def port(app: App, listen: Callable[..., int]) -> int:
    return listen(app)


def fill(form: str, app: App) -> str:
    now = app.clock()
    token = make_reply_address(app.settings, "demo", 42, expires=now + timedelta(days=7))
    expired = make_reply_address(app.settings, "demo", 42, expires=now - timedelta(minutes=5))
    return form.format(token=token, token_upper=token.upper(), expired=expired,
                       token_other_domain=token.replace("gw.example.com", "other.example"))


def rcpt(port: int, path: str) -> tuple[int, bytes]:
    with Wire(port) as wire:
        assert wire.command("EHLO client.example")[0] == 250
        assert wire.command("MAIL FROM:<lina@xdyj.example.com> SMTPUTF8")[0] == 250
        return wire.command(f"RCPT TO:{path}".encode())


@pytest.mark.parametrize("form", ACCEPTED)
def test_project_and_reply_addresses_are_accepted(app: App, port: int, form: str) -> None:
    code, text = rcpt(port, fill(form, app))
    assert code == 250, text


@pytest.mark.parametrize("form", REFUSED)
def test_everything_else_is_refused_with_550_5_1_1(app: App, port: int, form: str) -> None:
    code, text = rcpt(port, fill(form, app))
    assert (code, text[:5]) == (550, b"5.1.1"), (form, text)


def test_the_listener_keeps_serving_after_refusals(app: App, port: int) -> None:
    # Given a client that tried a relay trick
    with Wire(port) as wire:
        wire.command("EHLO client.example")
        wire.command("MAIL FROM:<x@evil.example>")
        assert wire.command("RCPT TO:<victim%elsewhere.example@gw.example.com>")[0] == 550
        # When it then names a project address in the same transaction
        assert wire.command("RCPT TO:<proj-demo@gw.example.com>")[0] == 250
        # Then only that recipient is in the envelope
        code, _ = wire.data(b"Subject: hi\r\n\r\nhello\r\n.\r\n")
        assert code == 250
