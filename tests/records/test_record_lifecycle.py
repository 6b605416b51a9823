"""A thread becomes one record: parties with their groups, attachments, a category that changes
within the thread (kept in the history), and a conclusion — by marker in a mail or by the PM."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.records.query import RecordFilter, record_views
from gateway.store.db import unit_of_work
from gateway.store.models import Record
from tests.records.conftest import Deliver, with_attachment
from tests.support.mail import make_mail

PM = "zhangwei@xdyj.example.com"
CLIENT = "huang@client.example.cn"


def views(app: App) -> list[dict[str, Any]]:
    with unit_of_work(app.sessions) as session:
        return record_views(session, RecordFilter(project="demo"))


def test_a_thread_is_one_record_with_its_parties_groups_and_attachments(
        records_app: App, deliver: Deliver) -> None:
    # Given a question to the client with a report attached, and two replies in the thread
    first = with_attachment(make_mail(subject="核心交换机升级方案讨论", sender=PM, to=CLIENT,
                                      cc="proj-demo@gw.example.com, wulei@xdyj.example.com",
                                      body="黄经理：\n附件是核心交换机升级方案，请审阅。\n谢谢"),
                            "核心交换机升级方案V2.docx")
    opening = deliver(first)
    reply = deliver(subject="回复：核心交换机升级方案讨论", sender=CLIENT, to=PM,
                    cc="proj-demo@gw.example.com", in_reply_to=opening,
                    body="方案收到，周四前反馈。")
    deliver(subject="回复：核心交换机升级方案讨论", sender=PM, to=CLIENT,
            cc="proj-demo@gw.example.com", in_reply_to=reply, body="好的，等您消息。")

    # Then the project has one record holding all three messages
    [record] = views(records_app)
    assert record["message_count"] == 3 and len(record["message_ids"]) == 3
    assert record["summary"].startswith("黄经理：\n附件是核心交换机升级方案")
    # and every party with its stakeholder group, the gateway itself left out
    groups = {p["address"]: p["group"] for p in record["parties"]}
    assert groups == {PM: "internal", CLIENT: "customer", "wulei@xdyj.example.com": "quality"}
    assert record["stakeholder_group"] == "customer"
    assert record["attachments"] == ["核心交换机升级方案V2.docx"]


def test_a_discussion_that_reaches_a_decision_keeps_its_first_category_in_history(
        records_app: App, deliver: Deliver) -> None:
    opening = deliver(subject="机房空调更换讨论", body="大家看看空调更换选哪家比较合适？")
    assert views(records_app)[0]["category"] != "decision"
    first_category = views(records_app)[0]["category"]
    deliver(subject="【决策】机房空调更换：选用A方案", in_reply_to=opening,
            body="经讨论决定采用A方案，下周一实施。")

    [record] = views(records_app)
    assert record["category"] == "decision"
    changes = [h for h in record["history"] if h.get("event") == "category"]
    assert changes and changes[0]["category"] == first_category
    assert changes[0]["to"] == "decision"


def test_a_marked_message_sets_the_conclusion_and_a_quoting_reply_does_not(
        records_app: App, deliver: Deliver) -> None:
    # Informal discussion (policy 4.4: it needs a record once it reaches a conclusion)
    opening = deliver(subject="备件库存问题", body="周敏，交换机电源模块还有库存吗？")
    concluded = deliver(subject="回复：备件库存问题", in_reply_to=opening,
                        body="查过了。\n结论：电源模块库存2块，本周不需采购。\n\n周敏")
    deliver(subject="回复：备件库存问题", in_reply_to=concluded,
            body="收到。\n\n> 结论：电源模块库存2块，本周不需采购。")

    [record] = views(records_app)
    assert record["conclusion"] == "电源模块库存2块，本周不需采购。"
    assert record["conclusion_source"] == "mail"
    assert record["conclusion_by"] == "lina@xdyj.example.com"
    assert record["needs_output"] is True


def test_a_conclusion_marked_in_the_subject_takes_the_message_text(
        records_app: App, deliver: Deliver) -> None:
    deliver(subject="[Conclusion] firewall rule review", body="Keep rule 12; drop rule 40.\n")
    [record] = views(records_app)
    assert record["conclusion"] == "Keep rule 12; drop rule 40."


def test_the_project_manager_concludes_a_record_from_the_command_line(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    deliver(subject="巡检周期调整", body="建议把巡检改为每两周一次。")
    record_id = views(records_app)[0]["id"]

    out = cli("records", "conclude", str(record_id), "--text", "巡检改为每两周一次，自12月起。")
    assert PM in out.stdout  # --by defaults to the project manager
    cli("records", "conclude", str(record_id), "--text", "巡检维持每周一次。",
        "--by", "wangqiang@xdyj.example.com", "--project", "demo")

    [record] = views(records_app)
    assert record["conclusion"] == "巡检维持每周一次。"
    assert record["conclusion_by"] == "wangqiang@xdyj.example.com"
    assert record["conclusion_source"] == "cli"
    events = [h for h in record["history"] if h.get("event") == "conclusion"]
    assert [e["conclusion"] for e in events] == ["巡检改为每两周一次，自12月起。",
                                                 "巡检维持每周一次。"]
    assert events[1]["previous"] == "巡检改为每两周一次，自12月起。"
    # the conclusion is searchable too
    found = json.loads(cli("records", "search", "每周一次", "--project", "demo", "--json").stdout)
    assert [h["record_id"] for h in found] == [record_id]


def test_conclude_refuses_an_unknown_record_or_a_wrong_project(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    deliver(subject="测试", body="内容")
    with unit_of_work(records_app.sessions) as session:
        record_id = session.scalars(select(Record.id)).one()
    assert "no record 999" in cli("records", "conclude", "999", "--text", "x", code=2).output
    assert "in project other" in cli("records", "conclude", str(record_id), "--text", "x",
                                     "--project", "other", code=2).output
    assert "--text is empty" in cli("records", "conclude", str(record_id), "--text", " ",
                                    code=2).output
