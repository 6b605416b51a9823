"""Open-relay probes at RCPT time: only project addresses and valid signed reply addresses.

Every form is written on the wire exactly as given (tests/inbound/wire.py), because relay tricks
live in syntax that lenient parsers "repair". The whole table is here, including the forms
tests/inbound/test_recipients.py already checks, so this suite alone states the policy
(docs/inbound.md "Recipients: never an open relay"). A refused recipient must get a 5xx, and a
DATA attempted after only refusals must not store anything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from gateway.app import App
from gateway.notify.tokens import make_reply_address
from tests.inbound.wire import Wire
from tests.security.helpers import messages

ACCEPTED = [
    "<proj-demo@gw.example.com>",
    "<PROJ-DEMO@GW.EXAMPLE.COM>",                  # uppercase: still the project address
    "<Proj-Demo@gw.example.com>",
    "<proj-ops@gw.example.com>",                   # the second project
    "<{token}>",                                   # a valid signed reply address
    "<{token_upper}>",                             # tokens are case-insensitive
    "proj-demo@gw.example.com",                    # no brackets: tolerated, same mailbox
]

REFUSED = [
    # plain foreign domains and other local parts
    "<victim@evil.example>",
    "<proj-demo@evil.example>",
    "<postmaster@gw.example.com>",
    "<postmaster>",
    "<root@gw.example.com>",
    "<proj-nosuch@gw.example.com>",
    # our domain as a label of theirs, theirs as a sub-domain of ours
    "<proj-demo@gw.example.com.evil.example>",
    "<proj-demo@evil.gw.example.com>",
    "<proj-demo@gw.example.com@evil.example>",
    "<victim@evil.example@gw.example.com>",
    # source routes (RFC 5321 §4.1.2 / Appendix C)
    "<@gw.example.com:victim@evil.example>",
    "<@evil.example,@gw.example.com:proj-demo@gw.example.com>",
    # percent hack, bang paths (RFC 2505 §2.6)
    "<victim%evil.example@gw.example.com>",
    "<proj-demo%evil.example@gw.example.com>",
    "<evil.example!victim@gw.example.com>",
    "<gw.example.com!evil.example!victim>",
    # quoted and escaped local parts
    '<"victim@evil"@gw.example.com>',
    '<"proj-demo"@gw.example.com>',
    "<proj-demo\\@evil.example@gw.example.com>",
    # address literals
    "<proj-demo@[127.0.0.1]>",
    "<proj-demo@[IPv6:::1]>",
    # IDN look-alikes
    "<proj-demo@gw.ex\u0430mple.com>",             # Cyrillic а
    "<proj-dem\u043e@gw.example.com>",             # Cyrillic о
    "<proj-demo@\uff47\uff57.example.com>",        # full-width ｇｗ (IDNA maps it onto ours)
    "<proj-demo@xn--gw-6kc.example.com>",          # punycode
    # trailing and doubled dots
    "<proj-demo@gw.example.com.>",
    "<proj-demo.@gw.example.com>",
    "<proj-demo@gw..example.com>",
    # comments, lists, whitespace inside the path
    "<proj-demo(comment)@gw.example.com>",
    "<victim@evil.example (proj-demo@gw.example.com)>",
    "<proj-demo@gw.example.com,victim@evil.example>",
    "<proj-demo@gw.example.com >",
    "<proj-demo@gw.example.com\tvictim@evil.example>",
    # reply tokens: unsigned, forged, expired, another project's, another receipt's
    "<proj-demo+anything@gw.example.com>",
    "<proj-demo+r-1-abcde-aaaaaaaaaa@gw.example.com>",
    "<{expired}>",
    "<{other_project}>",
    "<{other_receipt}>",
    "<{token_evil_domain}>",
    # NUL inside the address
    "<proj-demo\x00@gw.example.com>",
    "<proj-demo@gw.example.com\x00victim@evil.example>",
    # very long addresses (RFC 5321 §4.5.3.1: local part 64, path 256 octets)
    "<" + "a" * 300 + "@gw.example.com>",
    "<proj-demo@" + "a." * 200 + "gw.example.com>",
    "<proj-demo+r-" + "1" * 200 + "@gw.example.com>",
    # the null path is for senders only
    "<>",
]


def fill(form: str, app: App) -> str:
    now = app.clock()
    settings = app.settings
    token = make_reply_address(settings, "demo", 42, expires=now + timedelta(days=7))
    expired = make_reply_address(settings, "demo", 42, expires=now - timedelta(minutes=1))
    ops = make_reply_address(settings, "ops", 42, expires=now + timedelta(days=7))
    other_receipt = token.replace("+r-16-", "+r-17-")
    assert other_receipt != token  # receipt 42 is "16" in base 36
    return form.format(token=token, token_upper=token.upper(), expired=expired,
                       other_project=ops.replace("proj-ops+", "proj-demo+"),
                       other_receipt=other_receipt,
                       token_evil_domain=token.replace("gw.example.com", "evil.example"))


def rcpt(wire: Wire, path: str) -> tuple[int, bytes]:
    return wire.command(b"RCPT TO:" + path.encode("utf-8"))


def test_project_and_reply_addresses_are_accepted(app: App,
                                                  serve: Callable[..., int]) -> None:
    port = serve(app, run_workers=False)
    with Wire(port) as wire:
        assert wire.command("EHLO client.example")[0] == 250
        assert wire.command("MAIL FROM:<lina@xdyj.example.com> SMTPUTF8")[0] == 250
        answers = {form: rcpt(wire, fill(form, app)) for form in ACCEPTED}
    wrong = {form: answer for form, answer in answers.items() if answer[0] != 250}
    assert wrong == {}


def test_every_relay_form_is_refused_with_5xx_and_nothing_is_stored(
        app: App, serve: Callable[..., int]) -> None:
    port = serve(app, run_workers=False)
    assert len(REFUSED) >= 20
    wrong: dict[str, tuple[int, bytes]] = {}
    for form in REFUSED:
        with Wire(port) as wire:
            assert wire.command("EHLO client.example")[0] == 250
            assert wire.command("MAIL FROM:<x@evil.example> SMTPUTF8")[0] == 250
            code, text = rcpt(wire, fill(form, app))
            if not 500 <= code < 600:
                wrong[form] = (code, text)
                continue
            # Then a DATA after nothing but refusals is refused too, and nothing is stored
            data_code, _ = wire.command("DATA")
            if data_code == 354:
                wire.send(b"Subject: relayed?\r\n\r\nx\r\n.\r\n")
                data_code = wire.reply()[0]
            if data_code < 500:
                wrong[form] = (data_code, b"DATA not refused")
    assert wrong == {}
    assert messages(app) == []


def test_crlf_inside_the_address_cannot_add_a_recipient(app: App,
                                                        serve: Callable[..., int]) -> None:
    # A CRLF in the "address" ends the command: the first half is a broken path, the second
    # a plain relay attempt; neither may be accepted.
    port = serve(app, run_workers=False)
    with Wire(port) as wire:
        wire.command("EHLO client.example")
        wire.command("MAIL FROM:<x@evil.example>")
        first = wire.command(b"RCPT TO:<proj-demo@gw.example.com\r\nRCPT TO:<victim@evil.example>")
        second = wire.reply()
        assert 500 <= first[0] < 600 and 500 <= second[0] < 600, (first, second)
        assert wire.command("DATA")[0] >= 500
    assert messages(app) == []
