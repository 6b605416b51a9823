"""Compliance findings over a thread, with an injected clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from gateway.classify.findings import findings
from gateway.classify.model import Finding, ThreadEntry
from gateway.config.settings import ProjectConfig
from tests.classify.conftest import CLIENT, ENGINEER, PM, FactsMaker

T0 = datetime(2025, 5, 14, 9, 0, tzinfo=timezone(timedelta(hours=8)))


def _codes(found: list[Finding]) -> list[str]:
    return [f.code for f in found]


def test_a_change_without_reason_and_impact_is_reported(facts: FactsMaker,
                                                        demo: ProjectConfig) -> None:
    notice = facts("【变更通知】巡检周期调整", "下月起巡检周期调整为每两周一次。", to=(CLIENT,))
    reply = facts("Re: 【变更通知】巡检周期调整", "收到。", sender=CLIENT, to=(PM,))
    found = findings([ThreadEntry(notice, T0), ThreadEntry(reply, T0 + timedelta(hours=1))],
                     demo, now=T0 + timedelta(hours=2))
    assert _codes(found) == ["change_notice_incomplete"]
    assert found[0].evidence["missing"] == ["reason", "impact"]
    assert "原因、影响" in found[0].message_zh and found[0].clause == "4.2.1"


def test_a_change_with_reason_and_impact_passes(facts: FactsMaker, demo: ProjectConfig) -> None:
    text = "由于设备到货延迟，割接推迟一周，对业务无影响。"
    notice = facts("【变更】割接推迟", text, to=(CLIENT,))
    assert findings([ThreadEntry(notice, T0)], demo, now=T0) == []


def test_an_urgent_client_issue_without_a_team_reply(facts: FactsMaker,
                                                     demo: ProjectConfig) -> None:
    issue = facts("【紧急】OA无法访问", "全员无法访问OA", sender=CLIENT, to=(PM,))
    thread = [ThreadEntry(issue, T0)]
    assert findings(thread, demo, now=T0 + timedelta(minutes=59)) == []
    found = findings(thread, demo, now=T0 + timedelta(minutes=90))
    assert _codes(found) == ["urgent_incident_unanswered"]
    assert found[0].evidence["minutes_waited"] == 90 and found[0].evidence["replied_at"] is None


def test_a_prompt_reply_clears_it_and_a_late_one_is_reported(facts: FactsMaker,
                                                             demo: ProjectConfig) -> None:
    issue = facts("【紧急】OA无法访问", "全员无法访问OA", sender=CLIENT, to=(PM,))
    answer = facts("Re: 【紧急】OA无法访问", "已安排李娜处理，稍后回复。", to=(CLIENT,))
    later = T0 + timedelta(hours=5)
    on_time = [ThreadEntry(issue, T0), ThreadEntry(answer, T0 + timedelta(minutes=20))]
    assert findings(on_time, demo, now=later) == []
    late = [ThreadEntry(issue, T0), ThreadEntry(answer, T0 + timedelta(minutes=75))]
    found = findings(late, demo, now=later)
    assert _codes(found) == ["urgent_incident_unanswered"]
    assert found[0].evidence["minutes_waited"] == 75


def test_formal_communication_needs_a_confirmation(facts: FactsMaker,
                                                   demo: ProjectConfig) -> None:
    minutes = facts("【会议纪要】周例会", "议定事项：……", to=(ENGINEER,))
    thread = [ThreadEntry(minutes, T0)]
    assert findings(thread, demo, now=T0 + timedelta(hours=47)) == []
    found = findings(thread, demo, now=T0 + timedelta(hours=49))
    assert _codes(found) == ["formal_unconfirmed"]
    ack = facts("Re: 【会议纪要】周例会", "收到，无异议。", sender=ENGINEER, to=(PM,))
    confirmed = [*thread, ThreadEntry(ack, T0 + timedelta(hours=2))]
    assert findings(confirmed, demo, now=T0 + timedelta(hours=49)) == []


def test_the_sender_cannot_confirm_their_own_record(facts: FactsMaker,
                                                    demo: ProjectConfig) -> None:
    minutes = facts("【会议纪要】周例会", "议定事项：……", to=(ENGINEER,))
    again = facts("Re: 【会议纪要】周例会", "补充：已确认。", to=(ENGINEER,))
    thread = [ThreadEntry(minutes, T0), ThreadEntry(again, T0 + timedelta(hours=1))]
    assert _codes(findings(thread, demo, now=T0 + timedelta(days=3))) == ["formal_unconfirmed"]


def test_findings_serialise_with_both_languages(facts: FactsMaker, demo: ProjectConfig) -> None:
    notice = facts("【变更】x", "下月起调整。", to=(CLIENT,))
    data = findings([ThreadEntry(notice, T0)], demo, now=T0)[0].as_dict()
    assert set(data) == {"code", "clause", "message_zh", "message_en", "evidence", "entry_index"}
