"""The confirmation ledger under attack (issue 16): nobody silences or pages on someone else's
behalf, and automated mail is kept and linked, never made a record (issue 21).

Every attack goes through the gateway's own SMTP listener on loopback and the real pipeline:

- a forged "Automatic reply" from a member, and a genuine one, silence nobody — reminders and
  escalations always go out; a directive *about* auto-replies still gets its receipts;
- a verified auto-reply from a stranger suppresses automatic answers for a while only, never for
  members or stakeholders, and ``commgate suppressions list|lift`` shows and lifts it;
- 35 forged bounces open no record, page nobody, push nothing to DingTalk and open no receipt;
  the bounce is noted on the outbox recipient it reports on;
- an out-of-office reply to meeting minutes joins the minutes' record and is never pushed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import func, select

from gateway.app import App
from gateway.jobs.scheduler import tick
from gateway.notify.bounces import is_suppressed
from gateway.notify.outbox import deliver_due
from gateway.receipts.query import list_receipts
from gateway.store.audit_models import ConnectorDelivery
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Receipt, Record
from gateway.store.notify_models import ReportRun, Suppression
from gateway.testing.clock import FakeClock
from tests.security.conftest import SH, at
from tests.security.helpers import (
    CHENJING,
    HUANG,
    LINA,
    LIUYANG,
    PROJECT,
    WANGQIANG,
    ZHANGWEI,
    outbox,
    send,
    settled,
)

TRUSTED = "mx.xdyj.example.com"
VENDOR = "support@vendor.example.net"  # a receipt holder the project file does not know
SUBJECT = "【指令】今晚22:00前完成核心交换机巡检"
LADDER = ["2026-11-25 10:00", "2026-11-25 14:00", "2026-11-25 17:00", "2026-11-26 10:00",
          "2026-11-26 17:00", "2026-11-27 10:00", "2026-11-30 10:00", "2026-12-01 10:00"]


def passed(sender: str) -> str:
    return f"{TRUSTED}; dmarc=pass header.from={sender.rpartition('@')[2]}"


def failed(sender: str) -> str:
    return f"{TRUSTED}; dmarc=fail (p=reject) header.from={sender.rpartition('@')[2]}"


def mail(*, sender: str, to: Sequence[str], subject: str, body: str,
         cc: Sequence[str] = (PROJECT,), parent: EmailMessage | None = None,
         auth: Sequence[str] = (), headers: dict[str, str] | None = None,
         when: str = "2026-11-24 10:00") -> EmailMessage:
    msg = EmailMessage()
    for value in auth:  # the first is on top, as the upstream prepends its own
        msg["Authentication-Results"] = value
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(at(when))
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    if parent is not None:
        msg["In-Reply-To"] = str(parent["Message-ID"])
        msg["References"] = str(parent["Message-ID"])
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg


def auto_reply(parent: EmailMessage, *, sender: str, auth: Sequence[str],
               prefix: str = "Automatic reply: ", threaded: bool = True) -> EmailMessage:
    """What Outlook's out-of-office answers (RFC 3834 ``Auto-Submitted: auto-replied``)."""
    return mail(sender=sender, to=[str(parent["From"])], subject=prefix + str(parent["Subject"]),
                body="我正在休假，12月10日返回。紧急事务请联系张伟。\n", cc=(PROJECT,),
                parent=parent if threaded else None, auth=auth,
                headers={"Auto-Submitted": "auto-replied"}, when="2026-11-24 10:05")


def order(port: int, app: App, to: Sequence[str], subject: str = SUBJECT) -> EmailMessage:
    msg = mail(sender=LINA, to=to, subject=subject, auth=[passed(LINA)],
               body="请于今晚22:00前完成核心交换机巡检，完成后回复确认。\n李娜\n")
    send(port, msg)
    settled(app, 1)
    return msg


def receipts(app: App) -> dict[tuple[str, str], dict[str, Any]]:
    with unit_of_work(app.sessions) as session:
        rows = list_receipts(session, project_id=app.project_ids["demo"], zone=SH,
                             now=app.clock())
    return {(r["subject"], r["recipient"]): r for r in rows}


def suppressions(app: App) -> list[str]:
    with unit_of_work(app.sessions) as session:
        return list(session.scalars(select(Suppression.address).order_by(Suppression.address)))


def count(app: App, model: Any) -> int:
    with unit_of_work(app.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def run_ladder(app: App, clock: FakeClock) -> list[dict[str, Any]]:
    for when in LADDER:
        clock.set(when)
        tick(app, now=at(when))
        deliver_due(app, now=app.clock())
    return [m for m in outbox(app) if m["kind"] in ("reminder", "escalation")]


def test_a_forged_or_genuine_auto_reply_from_a_member_silences_nobody(
        app: App, clock: FakeClock, serve: Callable[..., int]) -> None:
    port = serve(app)
    # Given 李娜's directive to 刘洋
    directive = order(port, app, [LIUYANG])
    # When a forged "Automatic reply" claims to come from the department manager 王强 (the
    # trusted upstream says DMARC failed), and the project manager's real one answers too
    send(port, auto_reply(directive, sender=WANGQIANG, auth=[failed(WANGQIANG)]),
         sender=WANGQIANG)
    send(port, auto_reply(directive, sender=ZHANGWEI, auth=[passed(ZHANGWEI)]),
         sender=ZHANGWEI)
    settled(app, 3)
    # Then nobody is suppressed: members never are, and forged mail never suppresses
    assert suppressions(app) == []
    # And the whole ladder reaches them: the reminder, and both escalations
    ladder = run_ladder(app, clock)
    reached = {(m["kind"], a) for m in ladder for a, state in m["to"].items() if state == "sent"}
    assert {("reminder", LIUYANG), ("escalation", ZHANGWEI),
            ("escalation", WANGQIANG)} <= reached, [(m["kind"], m["to"]) for m in ladder]
    # And neither auto-reply touched 刘洋's receipt or opened one
    assert set(receipts(app)) == {(SUBJECT, LIUYANG)}


def test_a_directive_about_auto_replies_still_gets_its_receipts(
        app: App, serve: Callable[..., int]) -> None:
    port = serve(app)
    subject = "【指令】今晚关闭客户邮箱的自动回复功能"
    order(port, app, [LIUYANG, CHENJING], subject=subject)
    rows = receipts(app)
    assert {r for _s, r in rows} == {LIUYANG, CHENJING}
    assert all(r["status"] == "pending" for r in rows.values())
    with unit_of_work(app.sessions) as session:
        assert "auto_reply" not in session.scalars(select(Message.flags)).one()


def test_a_verified_strangers_auto_reply_suppresses_answers_for_a_while_only(
        app: App, clock: FakeClock, serve: Callable[..., int], cli: Callable[..., Any]) -> None:
    port = serve(app)
    # Given a directive to a vendor the project does not know, and to the client 黄经理
    directive = order(port, app, [VENDOR, HUANG])
    # When the vendor's and the client's vacation programs answer (the upstream vouches for
    # both), and an unverified "auto-reply" claims to come from another stranger
    send(port, auto_reply(directive, sender=VENDOR, auth=[passed(VENDOR)]), sender=VENDOR)
    send(port, auto_reply(directive, sender=HUANG, auth=[passed(HUANG)]), sender=HUANG)
    send(port, auto_reply(directive, sender="noc@other.example.org", auth=[]),
         sender="noc@other.example.org")
    settled(app, 4)
    # Then only the verified stranger gets no automatic answers, for seven days
    assert suppressions(app) == [VENDOR]
    with unit_of_work(app.sessions) as session:
        project_id = app.project_ids["demo"]
        assert is_suppressed(session, project_id=project_id, address=VENDOR, now=app.clock())
        assert not is_suppressed(session, project_id=project_id, address=VENDOR,
                                 now=app.clock() + timedelta(days=7, minutes=1))
    shown = cli("suppressions", "list", "--project", "demo", "--now", "2026-11-24T12:00+08:00")
    assert VENDOR in shown.output and HUANG not in shown.output
    assert "2026-12-01T10:00" in shown.output  # until when, in the project's time
    later = cli("suppressions", "list", "--project", "demo", "--now", "2026-12-01T10:06+08:00")
    assert VENDOR not in later.output
    assert VENDOR in cli("suppressions", "list", "--project", "demo", "--all",
                         "--now", "2026-12-01T10:06+08:00").output
    # And the reminder at the deadline still reaches the vendor: the ladder is never held back
    clock.set("2026-11-25 10:00")
    tick(app, now=at("2026-11-25 10:00"))
    deliver_due(app, now=app.clock())
    reminders = [m for m in outbox(app) if m["kind"] == "reminder"]
    assert {a: s for m in reminders for a, s in m["to"].items() if a == VENDOR} == {
        VENDOR: "sent"}
    # And a person lifts the suppression at once; lifting it again says there is none
    assert VENDOR in cli("suppressions", "lift", VENDOR, "--project", "demo").output
    assert suppressions(app) == []
    assert "not suppressed" in cli("suppressions", "lift", VENDOR, "--project", "demo",
                                   code=1).output


def _dsn(number: int, *, failed_to: str, original_id: str | None) -> bytes:
    """A forged delivery status notification (RFC 3464) whose returned copy reads like an
    urgent incident — what an attacker sends to page leadership."""
    returned = (f"Message-ID: {original_id}\r\n" if original_id else "") + \
        "Subject: 【紧急】核心交换机宕机，业务全部中断\r\n"
    headers = "" if original_id else f"X-Failed-Recipients: {failed_to}\r\n"
    return (
        f"From: MAILER-DAEMON@mx{number}.vendor.example.net\r\nTo: {PROJECT}\r\n"
        f"Subject: Undelivered Mail Returned to Sender: 紧急故障 核心交换机宕机\r\n{headers}"
        f"Message-ID: <dsn{number}@mx.vendor.example.net>\r\n"
        f"Date: Wed, 25 Nov 2026 10:{number % 60:02d}:00 +0800\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "紧急！核心交换机宕机，业务全部中断，请立即处理！urgent outage\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; {failed_to}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}\r\n--b--\r\n").encode()


def test_thirty_five_forged_bounces_page_nobody(
        app: App, clock: FakeClock, serve: Callable[..., int]) -> None:
    port = serve(app)
    # Given a directive to the vendor, whose reminder went out at the deadline
    order(port, app, [VENDOR])
    clock.set("2026-11-25 10:00")
    tick(app, now=at("2026-11-25 10:00"))
    deliver_due(app, now=app.clock())
    [reminder] = [m for m in outbox(app) if m["kind"] == "reminder"]
    assert reminder["to"][VENDOR] == "sent"
    before = {model: count(app, model) for model in (Record, Receipt, ConnectorDelivery,
                                                     ReportRun)}
    # When 35 forged bounces arrive, each shouting an urgent outage; some name the reminder's
    # Message-ID, the rest only the failed address
    clock.set("2026-11-25 10:30")
    for number in range(35):
        send(port, _dsn(number, failed_to=VENDOR,
                        original_id=reminder["message_id"] if number % 2 else None),
             sender="")
    settled(app, 36)
    # Then no record, receipt, special report or DingTalk push came of them
    after = {model: count(app, model) for model in before}
    assert after == before
    kinds = {m["kind"] for m in outbox(app)}
    assert kinds <= {"reminder", "bounce"}, kinds
    with unit_of_work(app.sessions) as session:
        dsns = [m for m in session.scalars(select(Message)) if "bounce" in m.flags]
        assert len(dsns) == 35 and all(m.state == "processed" for m in dsns)
        categories = set(session.scalars(select(Record.category)))
    assert categories == {"directive"}
    # And the bounce is noted on the outbox recipient it reports on
    [reminder] = [m for m in outbox(app) if m["kind"] == "reminder"]
    assert reminder["to"][VENDOR] == "bounced"
    # And the unverified bounces suppress nobody
    assert suppressions(app) == []


def test_an_out_of_office_reply_to_minutes_is_linked_never_a_record_or_a_push(
        app: App, serve: Callable[..., int], cli: Callable[..., Any]) -> None:
    port = serve(app)
    # Given 李娜's meeting minutes to the client, pushed to DingTalk (policy 4.4)
    minutes = mail(sender=LINA, to=[HUANG], subject="【会议纪要】11月24日周例会",
                   auth=[passed(LINA)],
                   body="会议纪要\n时间：11月24日\n议题：核心交换机割接\n结论：10月10日割接。\n")
    send(port, minutes)
    settled(app, 1)
    with unit_of_work(app.sessions) as session:
        [record] = session.scalars(select(Record)).all()
        record_id, category = record.id, record.category
    pushes = count(app, ConnectorDelivery)
    # When 黄经理's out-of-office answers it, once threaded and once by subject only
    for threaded in (True, False):
        send(port, auto_reply(minutes, sender=HUANG, auth=[passed(HUANG)], prefix="自动回复: ",
                              threaded=threaded), sender=HUANG)
    settled(app, 3)
    # Then the answers are kept and linked to the minutes' record, not made records of their own
    with unit_of_work(app.sessions) as session:
        assert [r.id for r in session.scalars(select(Record))] == [record_id]
        assert session.get_one(Record, record_id).category == category
        answers = [m for m in session.scalars(select(Message).order_by(Message.id))
                   if "auto_reply" in m.flags]
        assert len(answers) == 2 and all(m.state == "processed" for m in answers)
        # the threaded one joins the record; the other is kept in a thread of its own
        assert [m.record_id for m in answers] == [record_id, None]
        assert session.get_one(Record, record_id).message_count == 2
    # And nothing new goes to DingTalk, and no receipt is opened for them
    assert count(app, ConnectorDelivery) == pushes
    assert {r for _s, r in receipts(app)} <= {HUANG}
    # And the audit chain explains every row, the unlinked answer included
    cli("audit", "verify", "--project", "demo")

