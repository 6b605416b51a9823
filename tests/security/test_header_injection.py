"""Header injection through every notice field, address and name (docs/notify.md, headers.py).

Every template variable of every notice kind gets values carrying CR, LF, CRLF, NUL, NEL,
U+2028 and RFC 2047 encoded words that decode to CRLF. Each notice is either refused with a
GatewayError naming the problem, or queued; the queued outbox bytes are parsed with the stdlib
and must hold exactly the header fields, recipients and MIME parts of the same notice with
harmless values. The same holds for a record's subject and sender name arriving by SMTP and
coming back out in ``record_cc`` and in reminders.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.utils import getaddresses
from typing import Any

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.errors import GatewayError
from gateway.jobs.scheduler import tick
from gateway.notify import notices
from gateway.notify.kinds import KINDS
from gateway.notify.outbox import queue
from gateway.records.record_cc import record_context
from gateway.store.db import unit_of_work
from gateway.store.models import Record
from gateway.testing.clock import FakeClock
from tests.security.conftest import at
from tests.security.helpers import (
    HUANG,
    LINA,
    LIUYANG,
    PROJECT,
    ZHANGWEI,
    outbox,
    parse_bytes,
    settled,
)
from tests.security.helpers import send as smtp_send

EVIL = "victim@evil.example"
TOKEN = re.compile(r"\+r-[0-9a-z-]+@")  # each notice's reply address names its own receipt
HOSTILE = [
    f"x\r\nBcc: {EVIL}",
    f"x\nBcc: {EVIL}",
    f"x\rBcc: {EVIL}",
    f"x\x00Bcc: {EVIL}",
    f"x\x85Bcc: {EVIL}",                                  # NEL
    f"x\u2028Bcc: {EVIL}",                                # LINE SEPARATOR
    f"x\u2029Bcc: {EVIL}",
    "=?utf-8?b?eA0KQmNjOiB2aWN0aW1AZXZpbC5leGFtcGxl?=",  # "x\r\nBcc: victim@evil.example"
    "=?utf-8?q?x=0D=0ABcc:_victim@evil.example?=",
    f"x\r\n\r\n--boundary\r\nContent-Type: text/html\r\n\r\n<b>{EVIL}</b>",
]
BASELINE: dict[str, dict[str, Any]] = {
    "change": {"change_type": "schedule", "summary": "核心交换机割接延期", "reason": "备件未到货",
               "impact": "割接窗口顺延一周", "contact": "张伟 138-0000-0000",
               "new_dates": "2026-12-05 22:00", "new_cost": "0", "effective": "2026-12-05",
               "reply_by": "2026-11-30"},
    "incident": {"title": "核心交换机故障", "occurred_at": "2026-11-24 09:00",
                 "what_happened": "光模块告警", "impact": "部分业务中断", "actions": ["更换光模块"],
                 "next_update": "2026-11-24 12:00", "status": "处理中", "contact": "张伟"},
    "directive": {"title": "巡检", "instructions": "完成核心交换机巡检", "due": "2026-11-24 22:00",
                  "details": "见附件"},
    "minutes": {"meeting": "周例会", "time": "2026-11-24 10:00", "place": "会议室",
                "attendees": ["张伟", "李娜"], "agenda": ["巡检"], "decisions": ["按期巡检"],
                "action_items": [f"巡检 | {LINA} | 2026-12-01"], "recorder": "张伟",
                "absent": ["刘洋"]},
    "work_contact": {"department": "采购部", "title": "备件采购", "content": "请采购光模块两只",
                     "reply_by": "2026-11-30", "attachments_note": "清单"},
}
CASES = [(kind, name) for kind, values in BASELINE.items() for name in values]


def hostile(kind: str, name: str, value: str) -> dict[str, Any]:
    values = dict(BASELINE[kind])
    spec = KINDS[kind].field(name)
    assert spec is not None
    if spec.type == "list":
        values[name] = [value]
    elif spec.type == "actions":
        values[name] = [f"{value} | {LINA} | 2026-12-01", f"巡检 | {LINA} | {value}"]
    else:
        values[name] = value
    return values


def shape(raw: bytes) -> dict[str, Any]:
    """What must not change: header names, every address, the MIME tree."""
    msg = parse_bytes(raw)
    addresses = {name: sorted(TOKEN.sub("+r-TOKEN@", a) for _n, a in
                              getaddresses([str(v) for v in msg.get_all(name, [])]))
                 for name in ("From", "To", "Cc", "Bcc", "Reply-To", "Sender")}
    return {"fields": sorted({k.lower() for k, _v in msg.items()}), "addresses": addresses,
            "parts": [p.get_content_type() for p in msg.walk()],
            "defects": [type(d).__name__ for p in msg.walk() for d in p.defects]}


def field_lines(raw: bytes) -> list[bytes]:
    """The header block's field lines (continuation lines of folded fields left out)."""
    block = raw.split(b"\r\n\r\n", 1)[0]
    return [line for line in block.split(b"\r\n") if line[:1] not in (b" ", b"\t")]


def addresses_in(raw: bytes) -> set[str]:
    msg = parse_bytes(raw)
    values = [str(v) for name in ("From", "To", "Cc", "Bcc", "Reply-To", "Sender")
              for v in msg.get_all(name, [])]
    return {a.lower() for _n, a in getaddresses(values)}


def assert_safe(raw: bytes, expected: dict[str, Any]) -> None:
    # A value may end up as text of a folded Subject ("… x Bcc:\r\n victim@…"): harmless.
    # What must never happen is a new field line, a new address or a new MIME part.
    assert b"\x00" not in raw.split(b"\r\n\r\n", 1)[0]  # the body: see the NUL test below
    assert not any(line.lower().startswith(b"bcc:") for line in field_lines(raw))
    assert EVIL not in addresses_in(raw)
    assert shape(raw) == expected
    for value in parse_bytes(raw).values():
        assert not any(c in str(value) for c in "\r\n\x00\x85\u2028\u2029"), value


def queue_notice(app: App, kind: str, values: dict[str, Any], *, to: list[str],
                 sender: str = ZHANGWEI, full: bool = False) -> list[bytes]:
    """Prepare a notice and put it in the outbox; the outbox bytes of what was queued.

    ``full``: through ``notices.send`` (recorded by the pipeline, per-receipt Reply-To copies);
    otherwise each prepared mail is queued with ``outbox.queue`` — the same bytes, faster.
    """
    project = app.settings.project("demo")
    before = {m["id"] for m in outbox(app)}
    prepared = notices.prepare(app.settings, project, kind=kind, sender=sender, to=to,
                               values=values)
    if full:
        notices.send(app, prepared, project=project, now=app.clock())
    else:
        with unit_of_work(app.sessions) as session:
            for number, (message, recipients) in enumerate(prepared.mails):
                queue(session, project_id=app.project_ids["demo"], kind=kind,
                      idempotency_key=f"test:{message['Message-ID']}:{number}",
                      message=message, recipients=recipients, now=app.clock())
    return [m["raw"] for m in outbox(app) if m["id"] not in before]


@pytest.mark.parametrize(("kind", "name"), CASES, ids=[f"{k}.{n}" for k, n in CASES])
def test_every_notice_field_refuses_or_encodes_line_breaks(app: App, kind: str,
                                                           name: str) -> None:
    expected = [shape(raw) for raw in queue_notice(app, kind, BASELINE[kind], to=[HUANG])]
    for value in HOSTILE:
        try:
            raws = queue_notice(app, kind, hostile(kind, name, value), to=[HUANG])
        except GatewayError as refused:
            assert str(refused).strip(), "a refusal must say why"
            continue
        assert len(raws) == len(expected), value
        for raw, want in zip(raws, expected, strict=True):
            assert_safe(raw, want)


SUBJECT_FIELDS = {"change": "summary", "incident": "title", "directive": "title",
                  "minutes": "meeting", "work_contact": "title"}


@pytest.mark.parametrize("kind", sorted(SUBJECT_FIELDS))
def test_sent_notices_with_hostile_values_keep_their_shape(app: App, kind: str) -> None:
    # The whole path (recorded by the pipeline, one Reply-To copy per receipt owner)
    expected = [shape(raw) for raw in queue_notice(app, kind, BASELINE[kind], to=[HUANG],
                                                   full=True)]
    name = SUBJECT_FIELDS[kind]
    for value in (HOSTILE[0], HOSTILE[7], "巡检" + HOSTILE[-1]):
        try:
            raws = queue_notice(app, kind, hostile(kind, name, value), to=[HUANG], full=True)
        except GatewayError as refused:
            assert str(refused).strip()
            continue
        assert len(raws) == len(expected), value
        for raw, want in zip(raws, expected, strict=True):
            assert_safe(raw, want)
    body_field = "content" if kind == "work_contact" else "impact" if kind != "directive" \
        else "instructions"
    if kind == "minutes":
        body_field = "place"
    raws = queue_notice(app, kind, hostile(kind, body_field, HOSTILE[-1]), to=[HUANG], full=True)
    for raw, want in zip(raws, expected, strict=True):
        assert_safe(raw, want)


def test_a_nul_in_a_body_field_never_reaches_the_wire(app: App) -> None:
    # validate() refuses C0 controls in every field (RFC 5322 §2.3, RFC 2045 §2.8)
    leaked: list[str] = []
    for kind, name in CASES:
        try:
            raws = queue_notice(app, kind, hostile(kind, name, "x\x00y"), to=[HUANG])
        except GatewayError:
            continue
        if any(b"\x00" in raw for raw in raws):
            leaked.append(f"{kind}.{name}")
    assert leaked == []


ADDRESS_ATTACKS = [
    f"{HUANG}\r\nBcc: {EVIL}",
    f"{HUANG}, {EVIL}",
    f"{HUANG};{EVIL}",
    f'"黄经理\r\nBcc: {EVIL}" <{HUANG}>',
    f"=?utf-8?q?x=0D=0ABcc:_{EVIL}?= <{HUANG}>",
    f"{HUANG}\x00{EVIL}",
    f"<{HUANG}>{EVIL}",
    f"huang@client.example.cn\u2028Bcc: {EVIL}",
]


@pytest.mark.parametrize("address", ADDRESS_ATTACKS, ids=repr)
def test_hostile_recipient_or_sender_is_refused(app: App, address: str) -> None:
    values = BASELINE["directive"]
    for to, sender in (([address], ZHANGWEI), ([HUANG], address)):
        try:
            raws = queue_notice(app, "directive", values, to=to, sender=sender)
        except GatewayError as refused:
            assert str(refused).strip()
            continue
        for raw in raws:
            assert EVIL not in addresses_in(raw), address
            assert not any(line.lower().startswith(b"bcc:") for line in field_lines(raw))
        rows = outbox(app)
        assert all(EVIL not in m["to"] for m in rows), rows


def test_a_stakeholder_name_with_a_line_break_in_config_cannot_inject(
        make_app: Callable[..., App], config_dir: Any) -> None:
    demo = config_dir / "projects" / "demo.toml"
    text = demo.read_text(encoding="utf-8")
    assert 'name = "黄经理"' in text
    hostile_name = 'name = "黄经理\\r\\nBcc: victim@evil.example"'  # TOML escapes
    demo.write_text(text.replace('name = "黄经理"', hostile_name), encoding="utf-8")
    try:
        app = make_app()
    except GatewayError:
        return  # refused at start-up: fine
    try:
        raws = queue_notice(app, "directive", BASELINE["directive"], to=[HUANG])
    except GatewayError as refused:
        assert str(refused).strip()
        return
    for raw in raws:
        assert EVIL not in addresses_in(raw)
        assert not any(line.lower().startswith(b"bcc:") for line in field_lines(raw))


HIDDEN_CRLF_SUBJECT = "=?utf-8?b?44CQ5oyH5Luk44CR5beh5qOADQpCY2M6IHZpY3RpbUBldmlsLmV4YW1wbGU=?="
# decodes to "【指令】巡检\r\nBcc: victim@evil.example"
HIDDEN_CRLF_NAME = "=?utf-8?q?=E6=9D=8E=E5=A8=9C=0D=0ABcc:_victim@evil.example?="


def test_a_subject_and_name_hiding_crlf_never_reach_our_headers(
        app: App, clock: FakeClock, serve: Callable[..., int]) -> None:
    port = serve(app)
    raw = (f"From: {HIDDEN_CRLF_NAME} <{LINA}>\r\nTo: {LIUYANG}\r\nCc: {PROJECT}\r\n"
           f"Subject: {HIDDEN_CRLF_SUBJECT}\r\nDate: Tue, 24 Nov 2026 10:00:00 +0800\r\n"
           "Message-ID: <hidden-crlf@xdyj.example.com>\r\nMIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "请于今晚22:00前完成核心交换机巡检，完成后回复确认。\r\n").encode()
    smtp_send(port, raw)
    stored = settled(app, 1)
    assert stored[0].state == "processed", stored[0].error
    # record_cc of that record, and the reminder at its deadline
    project = app.settings.project("demo")
    with unit_of_work(app.sessions) as session:
        record_id = session.scalars(select(Record.id)).one()
        rec, everyone, refs = record_context(session, project, record_id)
    try:
        prepared = notices.prepare(app.settings, project, kind="record_cc", sender="",
                                   to=everyone, values={"record": str(record_id)}, record=rec,
                                   record_id=record_id, references=refs)
        notices.send(app, prepared, project=project, now=app.clock())
    except GatewayError as refused:
        assert str(refused).strip()
    clock.set("2026-11-25 10:00")
    tick(app, now=at("2026-11-25 10:00"))
    mails = outbox(app)
    assert any(m["kind"] == "reminder" for m in mails), [m["kind"] for m in mails]
    for mail in mails:
        assert EVIL not in addresses_in(mail["raw"])
        assert not any(line.lower().startswith(b"bcc:") for line in field_lines(mail["raw"]))
        assert EVIL not in mail["to"]
        for value in parse_bytes(mail["raw"]).values():
            assert not any(c in str(value) for c in "\r\n\x00"), value
