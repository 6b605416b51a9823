"""The story ``commgate demo`` tells, run through the real gateway on a clock the demo moves.

    start Server (embedded broker, SMTP on loopback) ─▶ mail in by smtplib ─▶ pipeline
    notice send (Python API) ─▶ outbox + pipeline     scheduler tick at chosen times ─▶ outbox
    weekly report build + send ─▶ outbox              deliver_due ─▶ outbox Maildir

Wednesday 2026-09-30 is the last working day before National Day (10-01…10-07): a directive of
one working day sent that morning falls due on Thursday 10-08, and nothing happens on the
holiday — the business clock (gateway/escalation/businesstime.py) skips it. The story then walks the
ladder of policy 4.3: reminders at the deadline, the project manager 4 h later, the O&M
department manager a working day later; a PM's own notice skips straight to the department
manager. One recipient confirms and later declines: the latest answer decides, and the author
hears of it at once. Every step is narrated from what the gateway stored (gateway/demo/view.py).
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from gateway.app import App
from gateway.audit.labels import any_label
from gateway.config.people import display_name
from gateway.demo.cast import (
    CHANGE,
    CHENJING,
    HUANG,
    LINA,
    LIUYANG,
    PROJECT,
    ZHANGWEI,
    directive,
    forged_header,
    foxmail_quote,
    outlook_quote,
    reply,
)
from gateway.demo.view import CODE, DeliveredMail, all_settled, maildir, message_state, receipts
from gateway.jobs.actors import make_jobs
from gateway.jobs.scheduler import tick
from gateway.notify import notices
from gateway.notify.outbox import deliver_due
from gateway.reports.build import build, recipients, send_report
from gateway.reports.periods import parse_period
from gateway.runtime.server import Server
from gateway.store.db import unit_of_work
from gateway.testing.clock import FakeClock

Line = tuple[str, str]  # (zh-CN, en)
_WEEKDAY = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
REPORT_WEEK = "2026-W40"  # the week of the story's mail (Mon 09-28 … Sun 10-04)


@dataclass
class Step:
    """One narrated moment: when, a title, and bilingual lines of what the gateway did."""

    when: str
    title: Line
    lines: list[Line] = field(default_factory=list)


@dataclass
class Outcome:
    smtp_port: int
    report_html: Path
    mails: list[DeliveredMail]
    message_ids: dict[str, str]  # role in the story → Message-ID


Narrator = Callable[[Step], None]

EVENT_ZH = {"due_soon": "即将到期", "overdue": "已逾期", "reminded": "已提醒",
            "escalated": "已升级", "skipped": "跳过", "closed": "已关闭", "request": "请求",
            "level": "级别"}
STATUS_ZH = {"pending": "待确认", "read": "已读", "confirmed": "已确认", "questioned": "有疑问",
             "declined": "无法执行", "waived": "已免除"}


def _who(row: dict[str, object]) -> str:
    name, address = str(row.get("name") or ""), str(row["recipient"])
    return f"{name} <{address}>" if name and name != address else address


def _events_zh(events: list[str]) -> str:
    words = [e.split() for e in events]
    return "；".join(" ".join(EVENT_ZH.get(w, w) for w in ws) for ws in words)


class Story:
    def __init__(self, app: App, clock: FakeClock, narrate: Narrator, *,
                 timeout: float = 30.0) -> None:
        self.app, self.clock, self.narrate, self.timeout = app, clock, narrate, timeout
        self.project = app.settings.project(CODE)
        self.port = 0
        self.stored = 0
        self.ids: dict[str, str] = {}

    # --- edges -------------------------------------------------------------------------

    def smtp(self, msg: EmailMessage, sender: str) -> dict[str, Any]:
        """Send like an MTA delivering the Cc copy: envelope to the project address only."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=self.timeout) as client:
            client.send_message(msg, from_addr=sender, to_addrs=[PROJECT])
        self.stored += 1
        deadline = time.monotonic() + self.timeout
        while not all_settled(self.app, self.stored):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the pipeline did not process {msg['Message-ID']} "
                                   f"within {self.timeout:.0f} s")
            time.sleep(0.05)
        return message_state(self.app, str(msg["Message-ID"]))

    def deliver(self) -> list[Line]:
        sent = deliver_due(self.app, now=self.clock())
        folder = self.app.settings.outbox_dir
        return [(f"发件箱投递 {sent} 封 → {folder}", f"outbox delivered {sent} mail(s) → {folder}")]

    def names(self, addresses: list[str]) -> list[str]:
        return [display_name(self.project, a) for a in addresses]

    def receipt_lines(self, key: str) -> list[Line]:
        return [(f"  回执 {_who(r)}: "
                 f"{STATUS_ZH.get(r['status'], r['status'])}，截止 {(r['deadline'] or '')[:16]}"
                 f"，级别 L{r['level']}",
                 f"  receipt {r['recipient']}: {r['status']}, due {(r['deadline'] or '')[:16]}, "
                 f"level {r['level']}") for r in receipts(self.app, message_id=self.ids[key])]

    # --- the story -----------------------------------------------------------------------

    def run(self) -> Outcome:
        server = Server(self.app, make_jobs(""), run_workers=True)
        server.start()
        try:
            assert server.smtp_port is not None
            self.port = server.smtp_port
            self.narrate(Step("", ("网关已启动（内嵌模式）", "gateway started (embedded)"), [
                (f"SMTP 监听 127.0.0.1:{self.port}，数据目录 {self.app.settings.data_dir}",
                 f"SMTP on 127.0.0.1:{self.port}, data folder {self.app.settings.data_dir}")]))
            self.morning()
            self.ladder()
            html = self.weekly_report()
        finally:
            server.stop(drain_timeout=10)
        return Outcome(self.port, html, maildir(self.app), dict(self.ids))

    def morning(self) -> None:
        when = self.clock.set("2026-09-30 09:30")
        order = directive(when)
        self.ids["directive"] = str(order["Message-ID"])
        state = self.smtp(order, LINA[1])
        self.narrate(Step("2026-09-30 周三 09:30", (
            "李娜发出指令（抄送项目邮箱），经 SMTP 进入网关",
            "李娜 sends a directive, Cc the project address, in by SMTP"), [
            (f"记录 R{state['record_id']}：类别 {any_label(state['category'])}，"
             f"干系人 {any_label(state['group'])}，{any_label(state['formality'])}",
             f"record R{state['record_id']}: {state['category']}, "
             f"group {state['group']}, {state['formality']}"),
            ("一个工作日的期限跨过国庆假期（10月1日–7日），顺延到10月8日",
             "one working day, across the National Day holiday (10-01…10-07): due 10-08"),
            *self.receipt_lines("directive")]))

        now = self.clock.set("2026-09-30 09:45")
        prepared = notices.prepare(self.app.settings, self.project, kind="change",
                                   sender=ZHANGWEI[1], to=[HUANG[1]], values=CHANGE.values)
        notices.send(self.app, prepared, project=self.project, now=now)
        self.stored += 1
        self.ids["change"] = str(prepared.mails[0][0]["Message-ID"])
        state = message_state(self.app, self.ids["change"])
        self.narrate(Step("2026-09-30 周三 09:45", (
            "张伟向客户黄经理发出进度变更通知（notice send change）",
            "张伟 sends the client a schedule change notice (notice send change)"), [
            (f"主题：{prepared.rendered[0].subject}", f"subject: {prepared.rendered[0].subject}"),
            (f"记录 R{state['record_id']}：类别 {any_label(state['category'])}，"
             f"干系人 {any_label(state['group'])}",
             f"record R{state['record_id']}: {state['category']}, group {state['group']}"),
            *self.receipt_lines("change")]))

        self.answer("confirm", LIUYANG, "2026-09-30 10:10",
                    foxmail_quote("收到，今晚完成巡检和备份。", order), order, (
            "刘洋用 Foxmail 回复“收到”（引用原文）", "刘洋 replies 收到 from Foxmail (quoting)"),
            ("只读取回复的新内容，引用部分被剥离",
             "only his own new text is read, quotes stripped"))
        self.answer("question", CHENJING, "2026-09-30 10:25",
                    outlook_quote("收到，但是否需要把备用链路的光模块一起检查？", order),
                    order, ("陈静用 Outlook 回复“收到，但是否需要…？”",
                            "陈静 replies with a question (Outlook)"),
                    ("有疑问不算确认；立即告知指令发出人李娜",
                     "a question is not a confirmation; the author 李娜 is told at once"))

        self.later_decline(order)

        when = self.clock.set("2026-09-30 11:00")
        original = prepared.mails[0][0]
        forged = reply(original, sender=HUANG, when=when, body="收到",
                       headers={"Authentication-Results": forged_header("client.example.cn")})
        self.ids["forged"] = str(forged["Message-ID"])
        state = self.smtp(forged, HUANG[1])
        flags: dict[str, Any] = state.get("flags") or {}
        reasons = ", ".join(flags.get("forged", {}).get("reasons", [])) or "-"
        self.narrate(Step("2026-09-30 周三 11:00", (
            "一封冒充黄经理的“收到”（mx.xdyj.example.com 报告 dmarc=fail）",
            "a forged 收到 claiming to be 黄经理 (dmarc=fail from the trusted upstream)"), [
            (f"邮件被保存并标记为伪造（{reasons}），不计为确认",
             f"kept and flagged forged ({reasons}); it never counts"),
            *self.receipt_lines("change"), *self.deliver()]))

    def later_decline(self, order: EmailMessage) -> None:
        """The latest answer decides: 刘洋 had confirmed, then writes that he cannot."""
        self.answer("decline", LIUYANG, "2026-09-30 10:40", foxmail_quote(
            "抱歉，刚发现 CORE-SW02 今晚停不了机，配置备份做不了，只能顺延到节后。", order), order,
            ("刘洋再次回复：“…做不了，只能顺延到节后”", "刘洋 writes again: he cannot after all"),
            ("以最新回复为准：此前的“已确认”改为“无法执行”，立即告知李娜（附原话）",
             "the latest answer decides: confirmed becomes declined, 李娜 is told at once "
             "with his words"))

    def answer(self, key: str, sender: tuple[str, str], at: str, body: str,
               order: EmailMessage, title: Line, note: Line) -> None:
        """One recipient answers the directive at ``at`` (``YYYY-MM-DD HH:MM``): sent, processed,
        and told with the directive's receipts as they now stand."""
        when = self.clock.set(at)
        answer = reply(order, sender=sender, when=when, body=body)
        self.ids[key] = str(answer["Message-ID"])
        self.smtp(answer, sender[1])
        day, _, time_of_day = at.partition(" ")
        self.narrate(Step(f"{day} {_WEEKDAY[date.fromisoformat(day).weekday()]} {time_of_day}",
                          title, [note, *self.receipt_lines("directive")]))

    def at_tick(self, when: str, label: str, title: Line, extra: list[Line] | None = None) -> None:
        report = tick(self.app, now=self.clock.set(when), project=CODE)
        lines: list[Line] = list(extra or [])
        for mail in report.mails:
            to, subject = ", ".join(mail.recipients), " ".join(str(mail.message["Subject"]).split())
            names = "、".join(self.names(list(mail.recipients)))
            lines.append((f"{any_label(mail.kind)} → {names}：{subject}",
                          f"{mail.kind} → {to}: {subject}"))
        if not report.mails:
            lines.append(("没有需要发出的提醒", "nothing due"))
        if report.events:
            lines.append((f"事件：{_events_zh(report.events)}",
                          f"events: {'; '.join(report.events)}"))
        self.narrate(Step(label, title, [*lines, *self.deliver()]))

    def ladder(self) -> None:
        self.at_tick("2026-09-30 17:50", "2026-09-30 周三 17:50", (
            "调度器运行（节前最后一个工作日下班前）",
            "scheduler tick, end of the last working day"))
        self.at_tick("2026-10-03 10:00", "2026-10-03 周六 10:00（国庆假期）", (
            "调度器运行：假期中期限不走",
            "scheduler tick on the holiday: business time stands still"))
        self.at_tick("2026-10-08 10:00", "2026-10-08 周四 10:00", (
            "节后第一个工作日：到期，提醒每位未确认的收件人",
            "first working day after the holiday: deadline passed, each unconfirmed recipient "
            "is reminded"), [("提醒抄送发出人，Reply-To 为签名的回执地址",
                              "the author is in Cc; Reply-To is a signed reply address")])
        self.at_tick("2026-10-08 14:00", "2026-10-08 周四 14:00", (
            "到期后 4 个工作小时：升级给项目经理",
            "4 working hours after the deadline: escalate to the project manager"), [
            ("张伟自己的变更通知直接升级给运维部经理王强",
             "张伟's own notice goes straight to the O&M department manager 王强")])
        self.at_tick("2026-10-09 10:00", "2026-10-09 周五 10:00", (
            "到期后 1 个工作日：升级给运维部经理",
            "one working day after the deadline: escalate to the O&M department manager"))

    def weekly_report(self) -> Path:
        now = self.clock.set("2026-10-09 18:00")
        period = parse_period(REPORT_WEEK, self.project.zone)
        project_id = self.app.project_ids[CODE]
        row = next((r for r in self.project.matrix if r.kind == "weekly_report"), None)
        to = recipients(self.project, row)
        with unit_of_work(self.app.sessions) as session:
            data, rendered = build(session, project=self.project, project_id=project_id,
                                   kind="weekly", period=period, now=now)
            send_report(self.app, session, project=self.project, kind="weekly", period=period,
                        to=to, now=now)
        out = self.app.settings.data_dir / "reports" / f"weekly-{REPORT_WEEK}.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rendered.html, encoding="utf-8")
        out.with_suffix(".txt").write_text(rendered.subject + "\n\n" + rendered.text,
                                           encoding="utf-8")
        self.narrate(Step("2026-10-09 周五 18:00", (
            f"周报（{REPORT_WEEK}）：生成并发送给 {'、'.join(self.names(to))}",
            f"weekly report ({REPORT_WEEK}): built and sent to {', '.join(to)}"), [
            (f"{data.total} 条沟通记录，HTML：{out}", f"{data.total} record(s); HTML: {out}"),
            *self.deliver()]))
        return out
