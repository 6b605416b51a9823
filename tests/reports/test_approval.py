"""Client reports wait for the owner's "同意发送": drafted to the PM, sent to the client once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.app import App
from gateway.inbound.intake import accept
from gateway.parse.headers import normalize_message_id
from gateway.pipeline import process
from gateway.reports.approval import approves, judge
from gateway.reports.schedule import tick
from gateway.store.db import unit_of_work
from gateway.store.notify_models import OutboxMail, ReportRun
from gateway.testing.clock import FakeClock
from tests.receipts.styles import foxmail
from tests.support.mail import make_mail

PM, LINA = "zhangwei@xdyj.example.com", "lina@xdyj.example.com"
CLIENT, PROJECT = "huang@client.example.cn", "proj-demo@gw.example.com"
DUE = datetime(2026, 12, 4, 2, tzinfo=UTC)  # Fri 4 Dec 10:00: November's report is due


@pytest.fixture
def app(make_app: Callable[..., App], config_dir: Path) -> App:
    demo = config_dir / "projects" / "demo.toml"
    text = demo.read_text(encoding="utf-8")
    assert text.count('kind = "monthly_report"\n') == 1
    demo.write_text(text.replace('kind = "monthly_report"\n',
                                 'kind = "monthly_report"\napproval = true\n'), encoding="utf-8")
    return make_app()


def _mails(app: App, kind: str) -> list[tuple[str, list[str]]]:
    with unit_of_work(app.sessions) as s:
        return [(m.subject, [r.address for r in m.recipients])
                for m in s.scalars(select(OutboxMail).where(OutboxMail.kind == kind)
                                   .order_by(OutboxMail.id))]


def _monthly_run(app: App) -> ReportRun:
    with unit_of_work(app.sessions) as s:
        run = s.scalars(select(ReportRun).where(ReportRun.kind == "monthly")).one()
        s.expunge(run)
        return run


def _draft(app: App) -> EmailMessage:
    with unit_of_work(app.sessions) as s:
        raw = s.scalars(select(OutboxMail.raw).where(OutboxMail.kind == "report_draft")).one()
    draft = message_from_bytes(raw, policy=default)
    assert isinstance(draft, EmailMessage)
    return draft


def _reply(app: App, clock: FakeClock, *, sender: str, own: str, minutes: int = 30) -> None:
    """``sender`` answers the draft from Foxmail: own text on top, the draft quoted below."""
    draft = _draft(app)
    when = clock.advance(minutes=minutes)
    raw = make_mail(subject=f"回复：{draft['Subject']}", sender=sender, to=PROJECT, cc="",
                    body=foxmail(own, draft), in_reply_to=str(draft["Message-ID"]),
                    date=when).as_bytes()
    pk = accept(app, project="demo", raw=raw, channel="smtp", will_enqueue=False).message_pk
    assert process(app, pk) == "processed"


def _drafted(app: App, clock: FakeClock) -> None:
    clock.now = DUE
    assert tick(app, DUE) >= 2  # the weekly report and the monthly draft
    assert tick(app, DUE) == 0


def test_due_client_report_is_drafted_to_the_pm_and_not_sent(app: App, clock: FakeClock) -> None:
    _drafted(app, clock)
    # Given approval = true on the client's monthly row, the client gets nothing yet
    periodic = _mails(app, "periodic")
    assert [to for _s, to in periodic] == [["wangqiang@xdyj.example.com",
                                            "sunzong@xdyj.example.com"]]  # weekly: internal
    [(subject, to)] = _mails(app, "report_draft")
    assert to == [PM]
    assert subject.startswith("【待审批】【月度服务报告】") and subject.endswith("2026-11")
    draft = _draft(app)
    assert draft["Auto-Submitted"] == "auto-generated"
    text = draft.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "同意发送" in text and CLIENT in text and "月度服务报告 2026-11" in text
    html = draft.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "【待审批】" in html and "黄经理 &lt;huang@client.example.cn&gt;" in html
    run = _monthly_run(app)
    assert run.state == "draft" and run.outbox_id is None
    assert run.draft_message_id == normalize_message_id(str(draft["Message-ID"]))


def test_pm_approval_sends_the_report_to_the_client_exactly_once(app: App,
                                                                 clock: FakeClock) -> None:
    _drafted(app, clock)
    # When the PM answers "同意发送" from Foxmail, quoting the draft
    _reply(app, clock, sender=PM, own="同意发送")
    # Then the client gets the monthly report, once, as gateway mail without the draft wrapper
    monthly = [(s, to) for s, to in _mails(app, "client") if "2026-11" in s]
    assert monthly == [("【月度服务报告】示例运维项目（核心网络运维） 2026-11", [CLIENT])]
    run = _monthly_run(app)
    assert run.state == "sent" and run.sent_at == clock.now and run.outbox_id is not None
    assert [r["outcome"] for r in run.facts["approval"]["replies"]] == ["approved"]
    # A second approval (and another tick) sends nothing more
    _reply(app, clock, sender=PM, own="同意")
    assert tick(app, clock.now) == 0
    assert len([s for s, _to in _mails(app, "client") if "2026-11" in s]) == 1


def test_change_request_or_anyone_elses_approval_leaves_it_a_draft(app: App,
                                                                   clock: FakeClock) -> None:
    _drafted(app, clock)
    _reply(app, clock, sender=PM, own="请把第三节改一下")
    _reply(app, clock, sender=LINA, own="同意发送")
    _reply(app, clock, sender=PM, own="不同意发送，数据还要核对")
    run = _monthly_run(app)
    assert run.state == "draft" and run.sent_at is None
    assert [(r["from"], r["outcome"]) for r in run.facts["approval"]["replies"]] == [
        (PM, "changes_requested"), (LINA, "not_owner"), (PM, "changes_requested")]
    assert not [s for s, _to in _mails(app, "periodic") if "2026-11" in s]
    # The draft still stands: the PM can approve it later
    _reply(app, clock, sender=PM, own="改好了，OK to send")
    assert _monthly_run(app).state == "sent"


@pytest.mark.parametrize(("text", "expected"), [
    ("同意发送", True), ("同意", True), ("可以发送", True), ("approve", True),
    ("Approved.", True), ("OK to send", True), ("好的，同意发送，谢谢！", True),
    ("不同意", False), ("暂不同意发送", False), ("请把第三节改一下", False), ("收到", False),
    ("同意，但第三节要改", False), ("同意发送吗？", False), ("OK to send?", False),
    ("don't approve", False), ("not approved yet", False), ("disapprove", False), ("", False),
])
def test_what_counts_as_approval(text: str, expected: bool) -> None:
    assert approves(text) is expected


def test_only_the_owner_authentic_and_by_hand_approves() -> None:
    def verdict(sender: str, *, forged: bool = False, automated: bool = False) -> str:
        return judge(sender=sender, owners=[PM], own_text="同意发送", automated=automated,
                     forged=forged)

    assert verdict("ZhangWei+phone@XDYJ.example.com") == "approved"  # person_key
    assert verdict(LINA) == "not_owner"
    assert verdict(PM, forged=True) == "forged"
    assert verdict(PM, automated=True) == "automated"  # an out-of-office reply says nothing


def test_an_english_reading_owner_gets_the_english_draft(
        make_app: Callable[..., App], config_dir: Path, clock: FakeClock) -> None:
    demo = config_dir / "projects" / "demo.toml"
    text = demo.read_text(encoding="utf-8")
    text = text.replace('kind = "monthly_report"\n', 'kind = "monthly_report"\napproval = true\n')
    text = text.replace(f'email = "{PM}"\n', f'email = "{PM}"\nlanguage = "en"\n')
    demo.write_text(text, encoding="utf-8")
    app = make_app()
    _drafted(app, clock)
    [(subject, to)] = _mails(app, "report_draft")
    assert to == [PM] and subject.startswith("[Approval needed] [Monthly Service Report]")
    body = _draft(app).get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert 'Reply "approve" to send it to: 黄经理 <huang@client.example.cn>' in body
    _reply(app, clock, sender=PM, own="Approved, thanks.")
    assert _monthly_run(app).state == "sent"
