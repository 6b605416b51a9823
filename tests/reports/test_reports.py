"""Reports read what the pipeline recorded: counts, names, boundaries, chart, sending, reminders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.app import App
from gateway.inbound.intake import accept
from gateway.pipeline import process
from gateway.reports.build import build, due_reports, last_sent
from gateway.reports.expected import expected_missing
from gateway.reports.periods import parse_period
from gateway.reports.schedule import tick
from gateway.reports.special import special_report
from gateway.store.db import unit_of_work
from gateway.store.models import Receipt, Record
from gateway.store.notify_models import OutboxMail, ReportRun
from gateway.testing.clock import FakeClock
from tests.support.mail import make_mail

PM, LINA = "zhangwei@xdyj.example.com", "lina@xdyj.example.com"
CLIENT = "huang@client.example.cn"


def _send(app: App, clock: FakeClock, when: datetime, **mail: Any) -> int:
    clock.now = when
    raw = make_mail(date=when, **mail).as_bytes()
    pk = accept(app, project="demo", raw=raw, channel="smtp", will_enqueue=False).message_pk
    assert process(app, pk) == "processed"
    with unit_of_work(app.sessions) as s:
        from gateway.store.models import Message
        record_id = s.get_one(Message, pk).record_id
        assert record_id is not None
        return record_id


def _week(app: App, clock: FakeClock) -> dict[str, int]:
    t = datetime(2026, 11, 24, 2, tzinfo=UTC)  # Tuesday of 2026-W48, 10:00 Shanghai
    ids = {
        "directive": _send(app, clock, t, subject="【指令】核心交换机巡检", sender=PM,
                           to=LINA),
        "change": _send(app, clock, t, subject="【变更通知】割接延期", sender=PM, to=CLIENT,
                        body="因备件未到货，割接顺延一周。影响：窗口推迟。\n"),
        "risk": _send(app, clock, t, subject="【风险】备件交期风险", sender=LINA, to=PM,
                      body="供应商通知电源模块交期延后两周，可能影响割接。\n"),
        "incident": _send(app, clock, t, subject="【故障通报】【紧急】核心交换机宕机",
                          sender=LINA, to=CLIENT, body="主用核心交换机重启，业务中断8分钟。\n"),
        # Sunday 23:30 Shanghai is still W48; Monday 00:30 is W49
        "sunday": _send(app, clock, datetime(2026, 11, 29, 15, 30, tzinfo=UTC),
                        subject="周日值班记录", sender=LINA, to=PM, body="值班无异常。\n"),
        "next": _send(app, clock, datetime(2026, 11, 29, 16, 30, tzinfo=UTC),
                      subject="下周计划", sender=LINA, to=PM, body="下周计划见附件。\n"),
    }
    return ids


@pytest.fixture
def app(embedded_app: App) -> App:
    return embedded_app


def test_weekly_report_counts_what_the_pipeline_recorded(app: App, clock: FakeClock,
                                                         tmp_path: Path) -> None:
    ids = _week(app, clock)
    project = app.settings.project("demo")
    now = datetime(2026, 11, 30, 2, tzinfo=UTC)
    with unit_of_work(app.sessions) as s:
        # the client confirmed the change; Lina never confirmed the directive
        s.execute(update(Receipt).where(Receipt.record_id == ids["change"])
                  .values(status="confirmed", updated_at=datetime(2026, 11, 25, 3, tzinfo=UTC)))
        s.execute(update(Receipt).where(Receipt.record_id == ids["directive"])
                  .values(deadline=datetime(2026, 11, 25, 2, tzinfo=UTC)))
        data, rendered = build(s, project=project, project_id=app.project_ids["demo"],
                               kind="weekly", period=parse_period("2026-W48", project.zone),
                               now=now)
        cats = {r.category for r in s.scalars(select(Record))}
    assert {"directive", "change_notice", "risk", "incident"} <= cats
    assert data.total == 5  # "next" belongs to W49
    assert data.directives == {"issued": 1, "confirmed": 0, "overdue": 1}
    assert [o["recipient"] for o in data.overdue] == [LINA]
    assert [c["confirmed"] for c in data.changes] == [True]
    assert [r["record"] for r in data.risks] == [ids["risk"]]
    assert [i["record"] for i in data.incidents] == [ids["incident"]]
    assert dict(data.confirmations)["2026-11-25"] == 1
    # people by their configured names (issue 21), not their addresses
    assert "<svg" in rendered.html and "李娜" in rendered.html and "李娜" in rendered.text
    assert rendered.subject == f"【周报】{project.name} 2026-W48"
    with unit_of_work(app.sessions) as s:
        _d, english = build(s, project=project, project_id=app.project_ids["demo"],
                            kind="monthly", period=parse_period("2026-11", project.zone),
                            now=now, language="en", to=["wangqiang@xdyj.example.com"])
    assert english.subject.startswith("[Monthly Report]") and "Overdue" in english.html
    (tmp_path / "report.html").write_text(rendered.html, encoding="utf-8")


def test_empty_period_renders(app: App) -> None:
    project = app.settings.project("demo")
    with unit_of_work(app.sessions) as s:
        data, rendered = build(s, project=project, project_id=app.project_ids["demo"],
                               kind="monthly", period=parse_period("2026-02", project.zone),
                               now=datetime(2026, 3, 5, tzinfo=UTC))
    assert data.total == 0 and len(data.confirmations) == 28
    assert "无" in rendered.html


def test_scheduler_sends_each_report_once(app: App, clock: FakeClock) -> None:
    project = app.settings.project("demo")
    now = datetime(2026, 12, 4, 2, tzinfo=UTC)  # after W49's Friday? no: Friday 4 Dec 10:00
    due = {d.kind: d.period.key for d in due_reports(project, {}, now)}
    assert due == {"weekly": "2026-W48", "monthly": "2026-11"}
    assert tick(app, now) >= 2
    assert tick(app, now) == 0
    with unit_of_work(app.sessions) as s:
        assert last_sent(s, app.project_ids["demo"]) == due
        mails = s.scalars(select(OutboxMail).where(OutboxMail.kind.in_(
            ("periodic", "report_draft")))).all()
        assert len(mails) == 2 and all(m.automated for m in mails)
        # the client's monthly report waits for the owner's approval by default (issue 21)
        monthly = next(m for m in mails if "2026-11" in m.subject)
        assert monthly.kind == "report_draft"
        assert [r.address for r in monthly.recipients] == [PM]
        assert b"Auto-Submitted: auto-generated" in monthly.raw
        assert not s.scalars(select(OutboxMail).where(OutboxMail.kind == "client")).all()


def test_risk_record_sends_one_special_report_to_leadership(app: App, clock: FakeClock) -> None:
    rid = _send(app, clock, datetime(2026, 11, 24, 2, tzinfo=UTC),
                subject="【风险】备件交期风险", sender=LINA, to=PM)
    project = app.settings.project("demo")
    with unit_of_work(app.sessions) as s:
        record = s.get_one(Record, rid)
        # the pipeline's reports stage sent it already; asking again sends nothing more
        assert not special_report(app, s, project=project, record=record, now=clock.now)
    with unit_of_work(app.sessions) as s:
        mail = s.scalars(select(OutboxMail).where(OutboxMail.kind == "special")).one()
        assert {r.address for r in mail.recipients} == {"sunzong@xdyj.example.com",
                                                        "wangqiang@xdyj.example.com"}
        assert mail.subject.startswith(f"[demo#R{rid}]") and mail.record_id == rid
        assert s.scalars(select(ReportRun.period)).one() == f"record:{rid}"


def test_expected_weekly_reports_are_watched(make_app: Callable[..., App], config_dir: Path,
                                             clock: FakeClock) -> None:
    demo = config_dir / "projects" / "demo.toml"
    demo.write_text(demo.read_text(encoding="utf-8") + '''
[[matrix]]
audience = "项目经理"
information = "工程师周报"
kind = "engineer_weekly_report"
recipient_roles = ["project_manager"]
frequency = "weekly fri 18:00"
owner = "engineer"
''', encoding="utf-8")
    app = make_app()
    project = app.settings.project("demo")
    _send(app, clock, datetime(2026, 11, 27, 8, tzinfo=UTC), subject="【周报】李娜 第48周",
          sender=LINA, to=PM, body="本周完成巡检三次。\n")
    after_due = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
    with unit_of_work(app.sessions) as s:
        missing = expected_missing(s, project, after_due)
    assert sorted(m.owner for m in missing if m.kind == "engineer_weekly_report") == [
        "chenjing@xdyj.example.com", "liuyang@xdyj.example.com"]
    # the shipped matrix also expects the PM's monthly quality status (frequency "monthly")
    assert {m.kind for m in missing if m.owner == PM} == {"quality_status"}
    clock.now = after_due
    assert tick(app, after_due) >= 2  # owners reminded (and the periodic reports)
    later = datetime(2026, 11, 28, 11, tzinfo=UTC)
    tick(app, later)
    assert tick(app, later) == 0
    with unit_of_work(app.sessions) as s:
        alerts = s.scalars(select(OutboxMail).where(OutboxMail.kind == "expected")).all()
        to = sorted(r.address for m in alerts for r in m.recipients if "工程师周报" in m.subject)
    assert to == ["chenjing@xdyj.example.com", "liuyang@xdyj.example.com", PM, PM]


def test_weekly_sections_agree_overdue_lists_everyone_escalated_and_unconfirmed(
        app: App, clock: FakeClock) -> None:
    ids = _week(app, clock)
    project = app.settings.project("demo")
    now = datetime(2026, 11, 30, 2, tzinfo=UTC)
    past = datetime(2026, 11, 25, 2, tzinfo=UTC)
    with unit_of_work(app.sessions) as s:
        # Given 李娜 questioned the directive and the client never answered the change notice,
        # both escalated to level 3 (as in the demo: 陈静 and 黄经理)
        s.execute(update(Receipt).where(Receipt.record_id == ids["directive"])
                  .values(status="questioned", level=3, deadline=past))
        s.execute(update(Receipt).where(Receipt.record_id == ids["change"])
                  .values(status="pending", level=3, deadline=past))
        for language in ("zh-CN", "en"):
            data, rendered = build(s, project=project, project_id=app.project_ids["demo"],
                                   kind="weekly", period=parse_period("2026-W48", project.zone),
                                   now=now, language=language)
            # Then every escalated, still unconfirmed person is in the overdue list too
            overdue = {(o["record"], o["recipient"]) for o in data.overdue}
            escalated = {(e["record"], e["recipient"]) for e in data.escalated
                         if e["status"] not in ("confirmed", "waived")}
            assert escalated and escalated <= overdue
            assert data.directives["overdue"] == 1
            heading, end = (("逾期未确认的人员:", "升级:") if language == "zh-CN"
                            else ("Overdue confirmations:", "Escalated:"))
            section = rendered.text.split(heading, 1)[1].split(end, 1)[0]
            assert "李娜" in section and "黄经理" in section
            assert "无" not in section and "none" not in section


def test_the_clients_report_uses_the_client_template_with_nothing_internal(
        app: App, clock: FakeClock) -> None:
    ids = _week(app, clock)
    project = app.settings.project("demo")
    now = datetime(2026, 12, 4, 2, tzinfo=UTC)
    with unit_of_work(app.sessions) as s:
        # Given an unconfirmed change and an overdue directive of 李娜 (internal findings)
        s.execute(update(Receipt).where(Receipt.record_id == ids["directive"])
                  .values(deadline=datetime(2026, 11, 25, 2, tzinfo=UTC), level=2))
        for language, words in (("zh-CN", ["服务概况", "故障/事件", "变更", "服务水平"]),
                                ("en", ["Service summary", "Incidents", "Changes",
                                        "Service level"])):
            _d, rendered = build(s, project=project, project_id=app.project_ids["demo"],
                                 kind="monthly", period=parse_period("2026-11", project.zone),
                                 now=now, language=language)  # the matrix row: the client
            for text in (rendered.text, rendered.html):
                for word in words:
                    assert word in text, (language, word)
                assert "核心交换机宕机" in text and "割接延期" in text
                # nothing internal: no directives, findings, staff or waiting lists
                for internal in ("指令", "Directive", "制度 4.2.1", "4.2.1", "李娜",
                                 "lina@", "逾期", "Overdue", "合规", "Findings", "升级",
                                 "Escalat", "procurement", "采购"):
                    assert internal not in text, (language, internal)
