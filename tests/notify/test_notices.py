"""Notices render in both languages, build clean MIME, refuse hostile values, and make records."""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from gateway.app import App
from gateway.cli.main import app as cli
from gateway.errors import NoticeInvalid
from gateway.inbound.intake import accept
from gateway.notify import notices
from gateway.notify.kinds import KINDS
from gateway.notify.outbox import deliver_due
from gateway.notify.tokens import verify_reply_address
from gateway.parse import parse_message
from gateway.pipeline import process
from gateway.stages.notify import run as notify_stage
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Receipt, Record
from gateway.store.notify_models import OutboxMail, Suppression
from tests.support.mail import make_mail, upstream_pass

PM = "zhangwei@xdyj.example.com"
CLIENT = "huang@client.example.cn"

SAMPLES: dict[str, dict[str, Any]] = {
    "change": {"change_type": "schedule", "summary": "核心交换机割接延期", "reason": "备件未到货",
               "impact": "割接窗口顺延一周，期间业务不受影响", "new_dates": "2026-12-05 22:00",
               "contact": "张伟 138-0000-0000"},
    "incident": {"title": "核心交换机宕机", "occurred_at": "2026-11-24 09:12",
                 "what_happened": "主用核心交换机重启", "impact": "办公网中断 8 分钟",
                 "actions": "切换备机; 联系厂商", "next_update": "2026-11-24 11:00"},
    "directive": {"title": "核心交换机巡检", "instructions": "今晚22:00前完成巡检并提交报告",
                  "due": "2026-11-24 22:00"},
    "minutes": {"meeting": "月度运维例会", "time": "2026-11-24 14:00", "place": "3号会议室",
                "attendees": "张伟; 李娜; 黄经理", "agenda": "故障复盘; 割接计划",
                "decisions": "割接顺延一周",
                "action_items": "提交割接方案 | 李娜 | 2026-11-28; 复核 | 张伟 | 2026-11-29"},
    "work_contact": {"department": "采购部", "title": "备件采购",
                     "content": "请采购交换机电源模块 2 个", "reply_by": "2026-11-26"},
}
REC = {"id": 7, "subject": "核心交换机巡检", "category": "directive", "formality": "written",
       "urgency": "normal", "summary": "今晚完成巡检", "conclusion": "已完成",
       "created_at": datetime(2026, 11, 24, 2, tzinfo=UTC), "parties": ["张伟", "李娜"],
       "receipts": [{"recipient": "lina@xdyj.example.com", "status": "confirmed"}]}


def _prepare(app: App, kind: str, language: str | None = None, **over: Any) -> notices.Prepared:
    values = {"record": "7"} if kind == "record_cc" else {**SAMPLES[kind], **over}
    return notices.prepare(app.settings, app.settings.project("demo"), kind=kind, sender=PM,
                           to=[CLIENT], values=values, language=language,
                           record=REC if kind == "record_cc" else None,
                           record_id=7 if kind == "record_cc" else None)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_notice_renders_with_alternatives(embedded_app: App, kind: str,
                                                language: str) -> None:
    prepared = _prepare(embedded_app, kind, language)
    [(message, rcpts)] = prepared.mails
    parsed = message_from_bytes(message.as_bytes(), policy=default)
    assert parsed.get_content_type() == "multipart/alternative"
    plain, html = parsed.get_payload()  # type: ignore[misc]
    assert plain.get_content_type() == "text/plain" and plain.get_content_charset() == "utf-8"
    assert html.get_content_type() == "text/html" and html.get_content_charset() == "utf-8"
    assert "{{" not in plain.get_content() and "{%" not in html.get_content()
    assert parsed["Message-ID"].endswith("@gw.example.com>")
    assert parsed["Content-Language"] == language
    automated = KINDS[kind].automated
    assert (parsed["Auto-Submitted"] == "auto-generated") is automated
    assert (parsed["X-Auto-Response-Suppress"] == "All") is automated
    if automated:
        assert parsed["Subject"].startswith("[demo#R7] ")
        assert parsed["From"] == f"{embedded_app.settings.project('demo').name} " \
                                 "<proj-demo@gw.example.com>"
    else:
        assert PM in parsed["From"] and "proj-demo@gw.example.com" in parsed["Cc"]
    assert "proj-demo@gw.example.com" not in rcpts
    english = language == "en"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in parsed["Subject"]) is not english or \
        kind in ("minutes", "work_contact", "record_cc", "incident", "directive", "change")


def test_html_is_escaped_and_work_contact_goes_to_the_interface(embedded_app: App) -> None:
    prepared = _prepare(embedded_app, "work_contact", content="<script>alert(1)</script>")
    [(message, rcpts)] = prepared.mails
    assert "zhoumin@xdyj.example.com" in rcpts  # 采购部's interface person
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_minutes_action_item_owners_become_recipients(embedded_app: App) -> None:
    [(_m, rcpts)] = _prepare(embedded_app, "minutes").mails
    assert {"lina@xdyj.example.com", PM} <= set(rcpts)


@pytest.mark.parametrize(("kind", "drop", "named"), [
    ("change", "reason", "reason"), ("change", "impact", "impact"),
    ("change", "new_dates", "new_dates"), ("minutes", "action_items", "action_items"),
    ("incident", "next_update", "next_update")])
def test_missing_field_is_named(embedded_app: App, kind: str, drop: str, named: str) -> None:
    with pytest.raises(NoticeInvalid, match=named):
        _prepare(embedded_app, kind, **{drop: ""})


def test_cli_refuses_a_change_without_reason_and_sends_nothing(
        make_settings: Callable[..., Any], tmp_path: Path) -> None:
    settings = make_settings()
    env = {"COMMGATE_DATA_DIR": str(settings.data_dir), "COMMGATE_SECRET_KEY": "x" * 20}
    args = ["--config", str(settings.config_path), "notice", "send", "change", "-p", "demo",
            "--to", CLIENT, "--from", PM, "--set", "change_type=scope", "--set", "summary=x",
            "--set", "impact=y", "--set", "contact=z"]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 2 and "reason" in result.output
    ok = CliRunner().invoke(cli, [*args, "--set", "reason=r", "--preview-html",
                                  str(tmp_path / "p.html")], env=env)
    assert ok.exit_code == 0, ok.output
    assert "变更通知" in (tmp_path / "p.html").read_text(encoding="utf-8")
    assert not (settings.data_dir / "outbox").exists()


def test_every_missing_field_is_named_at_once(embedded_app: App) -> None:
    # Given an incident notice with only its title
    with pytest.raises(NoticeInvalid) as caught:
        notices.prepare(embedded_app.settings, embedded_app.settings.project("demo"),
                        kind="incident", sender=PM, to=[CLIENT], values={"title": "宕机"})
    # Then one error names all five fields still missing, in the kind's order
    text = str(caught.value)
    assert "missing fields" in text
    names = ["occurred_at", "what_happened", "impact", "actions", "next_update"]
    positions = [text.index(repr(name)) for name in names]
    assert positions == sorted(positions)
    assert "'title'" not in text


def test_cli_names_all_missing_fields_and_defaults_from_to_the_pm(
        make_settings: Callable[..., Any], tmp_path: Path) -> None:
    settings = make_settings()
    env = {"COMMGATE_DATA_DIR": str(settings.data_dir), "COMMGATE_SECRET_KEY": "x" * 20}
    base = ["--config", str(settings.config_path), "notice", "send", "change", "-p", "demo",
            "--to", CLIENT]
    # Given a change notice with only its type: one try lists every field still to give
    missing = CliRunner().invoke(cli, [*base, "--set", "change_type=schedule"], env=env)
    assert missing.exit_code == 2
    assert len(missing.stderr.strip().splitlines()) == 1
    for name in ("summary", "reason", "impact", "contact", "new_dates"):
        assert repr(name) in missing.stderr
    # Without --from the notice is the project manager's, and the command says so once
    fields = [f"{k}={v}" for k, v in SAMPLES["change"].items()]
    sets = [arg for item in fields for arg in ("--set", item)]
    ok = CliRunner().invoke(cli, [*base, *sets, "--preview"], env=env)
    assert ok.exit_code == 0, ok.output
    said = [line for line in ok.stderr.splitlines() if "--from" in line]
    assert said == [f"commgate: no --from given: the notice is from the project manager "
                    f"张伟 <{PM}>"]
    assert f"From: 张伟 <{PM}>" in ok.stdout
    # An unknown --from is one line naming the members who may send it
    stranger = CliRunner().invoke(cli, [*base, *sets, "--from", "x@example.org", "--preview"],
                                  env=env)
    assert stranger.exit_code == 2
    assert "not a member of project demo" in stranger.stderr
    assert PM in stranger.stderr and "lina@xdyj.example.com" in stranger.stderr


def test_sending_a_notice_creates_its_record_and_is_delivered(embedded_app: App) -> None:
    project = embedded_app.settings.project("demo")
    prepared = _prepare(embedded_app, "change")
    [pk] = notices.send(embedded_app, prepared, project=project, now=embedded_app.clock())
    with unit_of_work(embedded_app.sessions) as s:
        mail = s.get_one(OutboxMail, pk)
        record = s.get_one(Record, mail.record_id)
        assert record.category == "change_notice"
        stored = s.scalars(select(Message).where(
            Message.message_id == mail.message_id.strip("<>"))).one()
        assert stored.arrivals[0].channel == "notice"
    assert deliver_due(embedded_app, now=embedded_app.clock()) == 1
    assert len(list(mailbox.Maildir(embedded_app.settings.outbox_dir))) == 1


def _dsn(original_id: str, failed: str) -> bytes:
    return (
        "From: MAILER-DAEMON@mx.client.example.cn\r\nTo: proj-demo@gw.example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn1@mx.client.example.cn>\r\n"
        "Date: Tue, 24 Nov 2026 10:05:00 +0800\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {original_id}\r\n"
        "Subject: x\r\n\r\n--b--\r\n").encode()


def test_a_bounce_marks_the_notice_and_tells_the_sender(embedded_app: App) -> None:
    project = embedded_app.settings.project("demo")
    [pk] = notices.send(embedded_app, _prepare(embedded_app, "change"), project=project,
                        now=embedded_app.clock())
    deliver_due(embedded_app, now=embedded_app.clock())
    with unit_of_work(embedded_app.sessions) as s:
        original = s.get_one(OutboxMail, pk).message_id
    parsed = parse_message(_dsn(original, CLIENT))
    assert parsed.bounce is not None
    with unit_of_work(embedded_app.sessions) as s:
        ctx = SimpleNamespace(app=embedded_app, session=s, parsed=parsed, project=project,
                              raw=_dsn(original, CLIENT), auth=None,
                              message=SimpleNamespace(project_id=1, message_id="<dsn1@mx>",
                                                      flags={}))
        notify_stage(ctx)  # type: ignore[arg-type]
        notify_stage(ctx)  # type: ignore[arg-type]  (a replayed bounce changes nothing)
    with unit_of_work(embedded_app.sessions) as s:
        mail = s.get_one(OutboxMail, pk)
        assert mail.bounced and mail.recipients[0].state == "bounced"
        told = s.scalars(select(OutboxMail).where(OutboxMail.kind == "bounce")).one()
        assert [r.address for r in told.recipients] == [PM]
        assert told.automated and told.record_id == mail.record_id
        # no trusted upstream vouched for the DSN: it suppresses nobody (issue 16)
        assert s.scalars(select(Suppression.address)).all() == []


def test_a_change_notice_carries_a_signed_reply_address_that_confirms(
        embedded_app: App) -> None:
    # Given 张伟 sends the client a change notice through the gateway
    project = embedded_app.settings.project("demo")
    [pk] = notices.send(embedded_app, _prepare(embedded_app, "change"), project=project,
                        now=embedded_app.clock())
    with unit_of_work(embedded_app.sessions) as s:
        mail = s.get_one(OutboxMail, pk)
        sent = message_from_bytes(mail.raw, policy=default)
        receipt_id = mail.receipt_id
    # Then the client's copy answers to the signed address of the client's receipt
    reply_to = str(sent["Reply-To"])
    assert reply_to.startswith("proj-demo+r-") and receipt_id is not None
    token = verify_reply_address(embedded_app.settings, reply_to, now=embedded_app.clock())
    assert token is not None and token.receipt_id == receipt_id
    # When the client answers "收到" on that address with no threading headers at all
    reply = make_mail(subject="收到", sender=CLIENT, to=reply_to, cc="", body="收到，同意。\n")
    reply["Authentication-Results"] = upstream_pass(CLIENT)
    accepted = accept(embedded_app, project="demo", raw=bytes(reply), channel="smtp",
                      envelope_to=[reply_to], will_enqueue=False)
    assert process(embedded_app, accepted.message_pk) == "processed"
    # Then the receipt is confirmed
    with unit_of_work(embedded_app.sessions) as s:
        assert s.get_one(Receipt, receipt_id).status == "confirmed"
