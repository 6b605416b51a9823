"""Auto-reply storm: the gateway's reminders meet auto-responders that answer every mail.

For each outbox mail, every recipient's "vacation program" answers it over SMTP (to its Reply-To,
as RFC 3834 §4 says responders should), the pipeline runs, and the scheduler ticks on through
the escalation ladder. The exchange must die out: the gateway never answers automated mail
(RFC 3834 §2) and within one scheduler pass nobody who owes a receipt gets more than one mail.
The auto-replies silence nobody (issue 16): the ladder runs to its end, reminders and
escalations reaching the receipt holders after their vacation programs answered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from gateway.app import App
from gateway.jobs.scheduler import tick
from gateway.testing.clock import FakeClock
from tests.security.conftest import at
from tests.security.helpers import (
    CHENJING,
    LINA,
    LIUYANG,
    PROJECT,
    messages,
    outbox,
    parse_bytes,
    send,
    settled,
)

SUBJECT = "【指令】今晚22:00前完成核心交换机巡检"
TICKS = ["2026-11-25 10:00", "2026-11-25 10:00", "2026-11-25 14:00", "2026-11-25 17:00",
         "2026-11-26 10:00", "2026-11-26 17:00", "2026-11-27 10:00", "2026-11-30 10:00",
         "2026-12-01 10:00", "2026-12-02 10:00"]
# The marks vacation programs put on their answers (gateway/parse/automated.py).
MARKS: list[tuple[str, dict[str, str]]] = [
    ("自动回复: ", {"Auto-Submitted": "auto-replied"}),
    ("Automatic reply: ", {"X-Autoreply": "yes"}),
    ("Out of Office: ", {"Precedence": "auto_reply"}),
    ("Re: ", {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}),
]


def auto_reply(original: EmailMessage, responder: str, number: int) -> EmailMessage:
    """What a responder answering everything sends back: a question, to annoy intent reading."""
    prefix, headers = MARKS[number % len(MARKS)]
    msg = EmailMessage()
    msg["From"] = responder
    reply_to = original["Reply-To"] or original["From"]
    msg["To"] = str(reply_to)
    msg["Subject"] = prefix + str(original["Subject"])
    msg["Date"] = format_datetime(at("2026-11-25 10:01"))
    msg["Message-ID"] = make_msgid(domain="responder.example")
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = str(original["Message-ID"])
    for name, value in headers.items():
        msg[name] = value
    msg.set_content("我正在休假，12月10日返回。收到，但是否需要延期？请回复。\n")
    return msg


def test_a_storm_of_auto_replies_dies_out(app: App, clock: FakeClock,
                                          serve: Callable[..., int]) -> None:
    port = serve(app)
    order = EmailMessage()
    order["From"], order["To"], order["Cc"] = LINA, f"{LIUYANG}, {CHENJING}", PROJECT
    order["Subject"] = SUBJECT
    order["Date"] = format_datetime(at("2026-11-24 10:00"))
    order["Message-ID"] = make_msgid(domain="xdyj.example.com")
    order.set_content("请于今晚22:00前完成核心交换机巡检，完成后回复确认。\n李娜\n")
    send(port, order)
    settled(app, 1)

    answered: set[int] = set()          # outbox ids already answered by the responders
    auto_ids: set[str] = set()          # Message-IDs of the auto-replies we injected
    number = 0
    quiet_rounds = 0
    per_pass: Counter[tuple[str, str]] = Counter()  # (tick, receipt owner) → deliverable mails
    for when in TICKS:
        clock.set(when)
        tick(app, now=at(when))
        new = [m for m in outbox(app) if m["id"] not in answered]
        for mail in new:
            for address, state in mail["to"].items():
                if state in ("pending", "sent") and address in (LIUYANG, CHENJING):
                    per_pass[when, address] += 1
        deliverable = [m for m in new if any(s in ("pending", "sent") for s in m["to"].values())]
        quiet_rounds = 0 if deliverable else quiet_rounds + 1
        for mail in new:
            answered.add(mail["id"])
            original = parse_bytes(mail["raw"])
            for address, state in mail["to"].items():
                if state in ("suppressed", "limited"):
                    continue  # never left the gateway: nobody answers it
                reply = auto_reply(original, address, number)
                number += 1
                auto_ids.add(str(reply["Message-ID"]))
                reply_to = str(reply["To"]).rpartition("<")[2].strip(">")
                send(port, reply, sender=address,
                     rcpt=[reply_to if reply_to.endswith("@gw.example.com") else PROJECT])
        settled(app, len(messages(app)))
    # Then the storm died out well before the ticks ran out
    assert quiet_rounds >= 3, [(m["kind"], m["to"]) for m in outbox(app)]
    mails = outbox(app)
    assert mails, "the ladder never wrote: the storm was not exercised"
    # And nothing the gateway wrote answers an auto-reply (RFC 3834 §2)
    for mail in mails:
        parsed = parse_bytes(mail["raw"])
        named = f"{parsed['In-Reply-To'] or ''} {parsed['References'] or ''}"
        assert not any(mid in named for mid in auto_ids), (mail["kind"], named)
        assert mail["kind"] != "receipt_answer", "an auto-reply's question was answered"
    # And the auto-replies silenced nobody: every rung of the ladder went out to everyone
    ladder = [m for m in mails if m["kind"] in ("reminder", "escalation")]
    assert {m["kind"] for m in ladder} == {"reminder", "escalation"}, ladder
    assert all(state not in ("suppressed", "limited") for m in ladder
               for state in m["to"].values()), [(m["kind"], m["to"]) for m in ladder]
    # And within one scheduler pass each receipt owner got at most one deliverable mail
    assert all(count <= 1 for count in per_pass.values()), per_pass
