"""Forged confirmations: what may and may not confirm a receipt (docs/receipts.md, authcheck.py).

The documented policy, tested as written (issue 16, fail-closed): with a trusted upstream
(``[auth] trusted_authserv_ids``, demo: ``mx.xdyj.example.com``) a reply counts only when the
*topmost* header of that upstream shows ``dmarc=pass`` or an aligned ``dkim=pass``. It is forged
when that header reports ``dmarc=fail`` or a From-domain ``dkim=fail|permerror`` with no aligned
pass, and **unverified** otherwise — a spoofed From with no trusted result, an unparsable trusted
header. Both are kept and flagged, the receipt unchanged; an unverified answer is shown to the
directive's author, who settles it. A reply on someone else's reply address counts for nobody;
an expired reply address is refused at RCPT.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.notify.tokens import make_reply_address
from gateway.receipts.query import list_receipts
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from tests.inbound.wire import Wire
from tests.receipts.styles import mdn
from tests.security.conftest import SH, at
from tests.security.helpers import (
    CHENJING,
    HUANG,
    LINA,
    LIUYANG,
    PROJECT,
    ZHANGWEI,
    outbox,
    send,
    settled,
)

HE, SUNZONG = "he@client.example.cn", "sunzong@xdyj.example.com"
SUBJECT = "【指令】今晚22:00前完成核心交换机巡检"
TRUSTED = "mx.xdyj.example.com"


def mail(*, sender: str, to: list[str], subject: str, body: str, cc: list[str] | None = None,
         in_reply_to: str | None = None, auth: Sequence[str] = ()) -> EmailMessage:
    msg = EmailMessage()
    for value in auth:
        msg["Authentication-Results"] = value
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at("2026-11-24 10:30"))
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg


def receipts(app: App) -> dict[str, dict[str, Any]]:
    with unit_of_work(app.sessions) as session:
        rows = list_receipts(session, project_id=app.project_ids["demo"], zone=SH,
                             now=app.clock())
    return {r["recipient"]: r for r in rows}


def flags(app: App, message_id: str) -> dict[str, Any]:
    with unit_of_work(app.sessions) as session:
        return dict(session.scalars(select(Message.flags).where(
            Message.message_id == message_id.strip("<>"))).one())


def test_forged_and_foreign_replies_never_confirm(app: App, serve: Callable[..., int]) -> None:
    port = serve(app)
    order = mail(sender=LINA, to=[LIUYANG, CHENJING, HUANG, HE, ZHANGWEI, SUNZONG],
                 cc=[PROJECT], subject=SUBJECT,
                 body="请于今晚22:00前完成核心交换机巡检，完成后回复确认。\n李娜\n")
    send(port, order)
    settled(app, 1)
    assert set(receipts(app)) == {LIUYANG, CHENJING, HUANG, HE, ZHANGWEI, SUNZONG}
    parent = str(order["Message-ID"])

    def answer(sender: str, auth: list[str]) -> EmailMessage:
        return mail(sender=sender, to=[LINA], cc=[PROJECT], subject="Re: " + SUBJECT,
                    body="收到，今晚完成。\n", in_reply_to=parent, auth=auth)

    replies = {
        # the trusted upstream says DMARC failed
        LIUYANG: answer(LIUYANG, [f"{TRUSTED}; dmarc=fail header.from=xdyj.example.com"]),
        # the trusted upstream says the From domain's DKIM signature failed
        CHENJING: answer(CHENJING, [f"{TRUSTED}; dkim=fail header.d=xdyj.example.com"]),
        # the upstream's own header on top says DMARC failed; a lower, attacker-written header
        # with the trusted id claims DKIM passed: only the topmost counts (RFC 8601 §5)
        HE: answer(HE, [f"{TRUSTED}; dmarc=fail header.from=client.example.cn",
                        f"{TRUSTED}; dkim=pass header.d=client.example.cn"]),
        # a spoofed From and no trusted result at all (only a stranger's): unverified
        HUANG: answer(HUANG, ["evil.example; dmarc=pass header.from=client.example.cn"]),
        # a broken relay signature, but DKIM passed for the From domain: it counts
        ZHANGWEI: answer(ZHANGWEI, [f"{TRUSTED}; dkim=fail header.d=relay.example; "
                                    f"dkim=pass header.d=xdyj.example.com"]),
    }
    for sender, reply in replies.items():
        send(port, reply, sender=sender)
    settled(app, 1 + len(replies))

    # someone else's reply address: 孙总 answers on 刘洋's token, outside the thread
    liuyang_receipt = receipts(app)[LIUYANG]["receipt_id"]
    token = make_reply_address(app.settings, "demo", liuyang_receipt,
                               expires=app.clock() + timedelta(days=7))
    foreign = mail(sender=SUNZONG, to=[token], subject="收到", body="收到，马上处理。\n")
    send(port, foreign, sender=SUNZONG, rcpt=[token])
    settled(app, 2 + len(replies))

    rows = receipts(app)
    assert {r: rows[r]["status"] for r in rows} == {
        LIUYANG: "pending", CHENJING: "pending", HE: "pending",
        HUANG: "pending", ZHANGWEI: "confirmed", SUNZONG: "pending"}
    for forged in (LIUYANG, CHENJING, HE):
        assert "forged" in [n["kind"] for n in rows[forged]["notes"]], rows[forged]["notes"]
    assert "dmarc=fail" in flags(app, str(replies[LIUYANG]["Message-ID"]))["forged"]["reasons"]
    assert any("dkim=fail" in r
               for r in flags(app, str(replies[CHENJING]["Message-ID"]))["forged"]["reasons"])
    assert "dmarc=fail" in flags(app, str(replies[HE]["Message-ID"]))["forged"]["reasons"]
    # the spoofed From is unverified, not forged: kept, flagged, shown to the author
    huang = flags(app, str(replies[HUANG]["Message-ID"]))
    assert "forged" not in huang and "unverified" in huang
    assert [n["kind"] for n in rows[HUANG]["notes"]] == ["unverified"]
    assert rows[HUANG]["needs_review"] is True
    shown = [m for m in outbox(app) if m["kind"] == "receipt_unverified"]
    assert [sorted(m["to"]) for m in shown] == [[LINA]]
    assert "huang" in shown[0]["subject"].lower() or "黄" in shown[0]["subject"]
    assert not (set(flags(app, str(replies[ZHANGWEI]["Message-ID"]))) & {"forged", "unverified"})
    assert [n["kind"] for n in rows[LIUYANG]["notes"]][-1] == "foreign_token"
    assert rows[SUNZONG]["notes"] == []  # nothing counted for the sender either


def test_an_expired_or_foreign_project_reply_address_is_refused_at_rcpt(
        app: App, serve: Callable[..., int]) -> None:
    port = serve(app, run_workers=False)
    now = app.clock()
    expired = make_reply_address(app.settings, "demo", 7, expires=now - timedelta(seconds=1))
    ops = make_reply_address(app.settings, "ops", 7, expires=now + timedelta(days=1))
    with Wire(port) as wire:
        wire.command("EHLO client.example")
        wire.command(f"MAIL FROM:<{LIUYANG}>")
        assert wire.command(f"RCPT TO:<{expired}>")[0] == 550
        assert wire.command(f"RCPT TO:<{ops.replace('proj-ops+', 'proj-demo+')}>")[0] == 550
        assert wire.command(f"RCPT TO:<{ops}>")[0] == 250  # valid for its own project


def test_replies_are_authenticated_fail_closed(app: App, serve: Callable[..., int]) -> None:
    port = serve(app)
    order = mail(sender=LINA, to=[LIUYANG, CHENJING, HUANG, HE, ZHANGWEI, SUNZONG],
                 cc=[PROJECT], subject=SUBJECT,
                 body="请于今晚22:00前完成核心交换机巡检，完成后回复确认。\n李娜\n")
    send(port, order)
    settled(app, 1)
    parent = str(order["Message-ID"])

    def answer(sender: str, auth: list[str]) -> EmailMessage:
        return mail(sender=sender, to=[LINA], cc=[PROJECT], subject="Re: " + SUBJECT,
                    body="收到，今晚完成。\n", in_reply_to=parent, auth=auth)

    replies = {
        # a spoofed From, no Authentication-Results at all
        LIUYANG: answer(LIUYANG, []),
        # the trusted upstream's header cannot be parsed: never read as absent
        CHENJING: answer(CHENJING, [f"{TRUSTED}; dmarc=pass header.from=xdyj.example.com; "
                                    "=broken"]),
        # DKIM passed, but for a domain that is not the From domain's
        HUANG: answer(HUANG, [f"{TRUSTED}; dkim=pass header.d=evil.example"]),
        # dkim=fail on top; a dkim=pass further down does not cancel it (RFC 8601 §5)
        HE: answer(HE, [f"{TRUSTED}; dkim=fail header.d=client.example.cn",
                        f"{TRUSTED}; dkim=pass header.d=client.example.cn"]),
        # no DMARC result, but DKIM passed aligned with From (header.i names the domain)
        ZHANGWEI: answer(ZHANGWEI, [f"{TRUSTED}; dkim=pass header.i=@xdyj.example.com"]),
        # a stranger's header on top is skipped; the topmost *trusted* one passes
        SUNZONG: answer(SUNZONG, ["evil.example; dmarc=fail header.from=xdyj.example.com",
                                  f"{TRUSTED}; dmarc=pass header.from=xdyj.example.com"]),
    }
    # a read receipt "from" 刘洋 that no upstream vouches for: it does not even mark read
    unverified_mdn = b"\r\n".join(line for line in mdn(order, reader=LIUYANG, to=LINA)
                                   .split(b"\r\n") if not line.startswith(b"Authentication-"))
    send(port, unverified_mdn, sender=LIUYANG)
    for sender, reply in replies.items():
        send(port, reply, sender=sender)
    settled(app, 2 + len(replies))

    rows = receipts(app)
    assert {r: rows[r]["status"] for r in rows} == {
        LIUYANG: "pending", CHENJING: "pending", HUANG: "pending", HE: "pending",
        ZHANGWEI: "confirmed", SUNZONG: "confirmed"}
    verdicts = {sender: sorted(set(flags(app, str(reply["Message-ID"]))) & {"forged",
                                                                          "unverified"})
                for sender, reply in replies.items()}
    assert verdicts == {LIUYANG: ["unverified"], CHENJING: ["unverified"],
                        HUANG: ["unverified"], HE: ["forged"], ZHANGWEI: [], SUNZONG: []}
    assert "unparsable" in " ".join(
        flags(app, str(replies[CHENJING]["Message-ID"]))["unverified"]["reasons"])
    # Then each unverified answer is shown to the author and waits for a person; the forged
    # one is only flagged
    shown = [m for m in outbox(app) if m["kind"] == "receipt_unverified"]
    assert len(shown) == 3 and all(sorted(m["to"]) == [LINA] for m in shown)  # not the MDN
    assert [n["kind"] for n in rows[LIUYANG]["notes"]] == ["unverified", "unverified"]
    assert all(rows[r]["needs_review"] for r in (LIUYANG, CHENJING, HUANG))
    assert not rows[HE]["needs_review"]
    with unit_of_work(app.sessions) as session:  # what `receipts list --needs-review` shows
        waiting = list_receipts(session, project_id=app.project_ids["demo"], zone=SH,
                                now=app.clock(), needs_review=True)
    assert {r["recipient"] for r in waiting} == {LIUYANG, CHENJING, HUANG}
