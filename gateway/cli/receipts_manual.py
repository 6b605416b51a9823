"""CLI for what a person settles: ``commgate receipts set|waive|extend|remind|withdraw|show``.

Thin: each command opens the app, resolves the project, calls gateway/receipts/manual.py in
one unit of work (audited as ``user:<--by>``), and prints one line per receipt touched,
zh-CN first then English. Misuse — an unknown project, record or recipient, a move the receipt
states refuse, a time that is no time — is one line on stderr and exit status 2.

``receipts show --project P --record N`` prints, per recipient, the history of that record's
receipts: replies with their reading and the rule matches behind it, read receipts, notes,
reminders, and people's decisions with who and why (``--json`` for the same as data).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from sqlalchemy.orm import Session

from gateway.app import App
from gateway.cli.common import fail, guarded, open_app, print_json
from gateway.cli.options import Project, parse_time
from gateway.config.settings import ProjectConfig
from gateway.receipts.manual import (
    Decision,
    check_person,
    extend,
    remind_now,
    set_status,
    waive,
    withdraw,
)
from gateway.receipts.query import history
from gateway.store.db import unit_of_work
from gateway.store.models import Receipt

T = TypeVar("T")

Record = Annotated[int, typer.Option("--record", "-r", help="Record id (R<N>).")]
Recipient = Annotated[str, typer.Option("--recipient", help="The recipient's address.")]
MaybeRecipient = Annotated[str | None, typer.Option(
    "--recipient", help="Only this recipient (default: everyone still owing).")]
By = Annotated[str, typer.Option("--by", help="Who decides: a project member's address.")]
Note = Annotated[str, typer.Option("--note", help="Why: how it was confirmed, the reason.")]
MaybeBy = Annotated[str | None, typer.Option(
    "--by", help="Who decides: a project member's address (default: your login).")]
MaybeNote = Annotated[str, typer.Option("--note", help="Why.")]

STATUS_ZH = {"pending": "待确认", "read": "已读未确认", "confirmed": "已确认",
             "questioned": "有疑问", "declined": "无法执行", "waived": "已免除"}
KIND_ZH = {"opened": "开启", "read": "已读回执", "confirmed": "回复", "questioned": "回复",
           "declined": "回复", "reading": "回复", "unclear": "回复（无法判断）",
           "auto_reply": "自动回复", "forged": "伪造", "unverified": "未认证",
           "foreign_token": "他人回执地址",
           "set": "人工登记", "waived": "人工免除", "extended": "延期", "remind_now": "立即提醒",
           "reminded": "提醒", "escalated": "升级", "withdrawn": "撤回", "reopened": "重新打开",
           "closed": "关闭", "due_soon": "即将到期", "overdue": "已逾期", "skipped": "跳过"}


def _run(ctx: typer.Context, project: str,
         body: Callable[[App, ProjectConfig, Session, datetime], T]) -> tuple[T, ZoneInfo]:
    """``body(gw, cfg, session, now)`` in one unit of work; errors become one line."""
    gw = open_app(ctx)
    try:
        cfg = guarded(ctx, lambda: gw.settings.project(project))
        now = gw.clock()

        def work() -> T:
            with unit_of_work(gw.sessions) as session:
                return body(gw, cfg, session, now)

        return guarded(ctx, work), ZoneInfo(cfg.timezone)
    finally:
        gw.close()


def _decision(gw: App, cfg: ProjectConfig, record: int, now: datetime, by: str | None,
              note: str) -> Decision:
    who = check_person(cfg, by) if by is not None else getpass.getuser()
    return Decision(by=who, note=note.strip(), project=cfg, project_id=gw.project_ids[cfg.code],
                    record_id=record, now=now)


def _needs(value: str, option: str) -> str:
    if not value.strip():
        raise fail(f"{option}: give a value (who decides and why are audited)")
    return value


def _line(receipt: Receipt, zone: ZoneInfo) -> str:
    due = receipt.deadline.astimezone(zone).isoformat()[:16] if receipt.deadline else "-"
    return (f"R{receipt.record_id} {receipt.recipient}: "
            f"{STATUS_ZH.get(receipt.status, receipt.status)} / {receipt.status}, "
            f"截止 due {due}")


def set_command(ctx: typer.Context, project: Project, record: Record, recipient: Recipient,
                status: Annotated[str, typer.Option(
                    "--status", help="confirmed | questioned | declined")],
                by: By, note: Note) -> None:
    """Record an answer given by phone or in a meeting (policy table 4-1), with who and why."""
    _needs(note, "--note")
    receipt, zone = _run(ctx, project, lambda gw, cfg, s, now: set_status(
        s, gw.settings, _decision(gw, cfg, record, now, by, note), recipient=recipient,
        status=status.strip().lower()))
    typer.echo(f"已登记 set: {_line(receipt, zone)}")


def waive_command(ctx: typer.Context, project: Project, record: Record, recipient: Recipient,
                  by: By, note: Note) -> None:
    """The recipient no longer owes this receipt: the ladder leaves them alone."""
    _needs(note, "--note")
    receipt, zone = _run(ctx, project, lambda gw, cfg, s, now: waive(
        s, gw.settings, _decision(gw, cfg, record, now, by, note), recipient=recipient))
    typer.echo(f"已免除 waived: {_line(receipt, zone)}")


def extend_command(ctx: typer.Context, project: Project, record: Record,
                   until: Annotated[str, typer.Option(
                       "--until", help="New deadline (ISO 8601; no offset: the project's zone).")],
                   by: By, note: Note, recipient: MaybeRecipient = None) -> None:
    """A later receipt deadline, for one recipient or every open receipt of the record."""
    _needs(note, "--note")

    def body(gw: App, cfg: ProjectConfig, s: Session, now: datetime) -> list[Receipt]:
        return extend(s, _decision(gw, cfg, record, now, by, note), recipient=recipient,
                      until=parse_time(until, cfg.zone, option="--until",
                                       example="2026-11-27T18:00+08:00"))

    receipts, zone = _run(ctx, project, body)
    for receipt in receipts:
        typer.echo(f"已延期 extended: {_line(receipt, zone)}")


def remind_command(ctx: typer.Context, project: Project, record: Record,
                   recipient: MaybeRecipient = None, by: MaybeBy = None,
                   note: MaybeNote = "") -> None:
    """Remind now (outside the ladder) whoever still owes a receipt for the record."""
    receipts, zone = _run(ctx, project, lambda gw, cfg, s, now: remind_now(
        s, gw.settings, _decision(gw, cfg, record, now, by, note), recipient=recipient))
    for receipt in receipts:
        typer.echo(f"已加入发件箱 reminder queued: {_line(receipt, zone)}")


def withdraw_command(ctx: typer.Context, project: Project, record: Record,
                     by: MaybeBy = None, note: MaybeNote = "") -> None:
    """The directive is withdrawn: no reminder, escalation or notice is sent for it again."""
    requests, _zone = _run(ctx, project, lambda gw, cfg, s, now: [
        r.id for r in withdraw(s, _decision(gw, cfg, record, now, by, note))])
    typer.echo(f"已撤回 withdrawn: R{record}（{len(requests)} 个回执请求 request(s)），"
               f"不再发送任何提醒 nothing more is sent")


def _describe(event: dict[str, Any]) -> str:
    kind, detail = event["kind"], event["detail"] or {}
    parts = [f"{KIND_ZH.get(kind, kind)} {kind}"]
    if event.get("after") and event.get("after") != event.get("before"):
        parts.append(f"{event['before'] or '—'} → {event['after']}")  # opened: nothing before
    if detail.get("reading"):
        parts.append(f"读作 reading {detail['reading']}")
    if detail.get("superseded"):
        parts.append("（较新的回复已在先 a newer answer counts）")
    if detail.get("reasons"):
        parts.append("依据 reasons: " + "; ".join(str(r) for r in detail["reasons"]))
    if detail.get("by"):
        parts.append(f"由 by {detail['by']}")
    if detail.get("note"):
        parts.append(f"说明 note「{detail['note']}」")
    if detail.get("until"):
        parts.append(f"至 until {detail['until'][:16]}")
    for key in ("reason", "mdn"):
        if detail.get(key):
            parts.append(f"{key}: {detail[key]}")
    if detail.get("level"):
        parts.append(f"L{detail['level']}")
    line = "，".join(parts)
    text = " ".join(str(detail.get("text") or "").split())
    return line + (f"\n      「{text[:200]}」" if text else "")


def show_command(ctx: typer.Context, project: Project, record: Record,
                 as_json: Annotated[bool, typer.Option("--json", help="As JSON.")] = False
                 ) -> None:
    """Per recipient: the history of replies, readings, reasons and manual decisions."""
    rows, _zone = _run(ctx, project, lambda gw, cfg, s, now: history(
        s, project_id=gw.project_ids[cfg.code], record_id=record, zone=ZoneInfo(cfg.timezone)))
    if not rows:
        raise fail(f"record {record} of project {project} asks nobody for a receipt")
    if as_json:
        print_json(rows)
        return
    subject = None
    for row in rows:
        if row["subject"] != subject:
            subject = row["subject"]
            typer.echo(f"R{record}「{subject}」<{row['message_id']}>"
                       + ("  已撤回 WITHDRAWN" if row["withdrawn"] else ""))
            for event in row["request_events"]:
                typer.echo(f"  {event['at'][:16]}  {_describe(event)}")
        name = f"{row['name']} <{row['recipient']}>" if row["name"] else row["recipient"]
        flag = "  待人工判定 NEEDS REVIEW" if row["needs_review"] else ""
        typer.echo(f"  {name}: {STATUS_ZH.get(row['status'], row['status'])} / {row['status']}"
                   f"，截止 due {(row['deadline'] or '-')[:16]}，级别 level L{row['level']}{flag}")
        for event in row["events"]:
            typer.echo(f"    {event['at'][:16]}  {_describe(event)}")


def register(receipts_app: typer.Typer) -> None:
    """Add these commands to ``commgate receipts`` (gateway/cli/receipts.py)."""
    receipts_app.command("set")(set_command)
    receipts_app.command("waive")(waive_command)
    receipts_app.command("extend")(extend_command)
    receipts_app.command("remind")(remind_command)
    receipts_app.command("withdraw")(withdraw_command)
    receipts_app.command("show")(show_command)
