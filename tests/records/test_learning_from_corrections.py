"""Every ``records reclassify`` teaches the project's model (issue #22).

Given a project whose people keep correcting one kind of mail the rules do not know
When seven records are reclassified through the CLI
Then the model file is written, the next such message is classified with its help (and says so),
and ``classify evaluate`` reports per-field accuracy cross-validated over the corrections.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.records.corrections import corrected_examples, model_path
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Record
from tests.records.conftest import Deliver
from tests.records.story import PM

BODY = "温度{t}度，湿度{h}%，UPS负载{u}%，空调运行正常。\n"


def _record(app: App, message_id: str) -> Record:
    with unit_of_work(app.sessions) as s:
        rid = s.scalars(select(Message.record_id)
                        .where(Message.message_id == message_id.strip("<>"))).one()
        record = s.get_one(Record, rid)
        s.expunge(record)
        return record


def test_corrections_teach_the_model_and_evaluate_reports_it(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    days = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
    ids = [deliver(subject=f"机房环境数据（{day}）", body=BODY.format(t=20 + i, h=40 + i, u=30 + i))
           for i, day in enumerate(days)]
    first = [_record(records_app, mid) for mid in ids]
    assert {r.category for r in first} == {"general"}  # no rule knows this habit
    path = model_path(records_app.settings.data_dir, "demo")
    for record in first:
        cli("records", "reclassify", str(record.id), "--project", "demo", "--category", "report",
            "--formality", "formal_written", "--by", PM, "--note", "机房环境数据是日报")
    assert path.exists()
    with unit_of_work(records_app.sessions) as s:
        examples = corrected_examples(s, records_app.project_ids["demo"])
    assert [e.labels["category"] for e in examples] == ["report"] * 7

    # the next one is a report without anyone's help, and its reasons say why
    nxt = _record(records_app, deliver(subject="机房环境数据（节假日）",
                                       body=BODY.format(t=26, h=46, u=36)))
    assert (nxt.category, nxt.formality) == ("report", "formal_written")
    learned = [r for r in nxt.reasons if str(r.get("rule", "")).startswith("learned:")]
    assert learned and learned[0]["evidence"][0] == "learned from 7 corrections"
    # a message of another kind is left to the rules
    other = _record(records_app, deliver(subject="【指令】整理机房线缆",
                                         body="请于周五前完成机房线缆整理。\n"))
    assert other.category == "directive"

    out = cli("classify", "evaluate", "--project", "demo", "--json")
    data = json.loads(out.output)
    assert (data["examples"], data["folds"], data["learn"]) == (7, 5, True)
    assert data["fields"]["category"] == {"rules": 0.0, "with_learning": 1.0}
    assert data["fields"]["stakeholder_group"]["rules"] == 1.0
    table = cli("classify", "evaluate", "--project", "demo").output
    assert "类别 category" in table and "100.0%" in table and "5 折交叉验证" in table


def test_evaluate_without_corrections_says_so(records_app: App, cli: Callable[..., Any]) -> None:
    out = cli("classify", "evaluate", "--project", "demo")
    assert "corrected records: 0" in out.output
    missing = cli("classify", "evaluate", "--project", "nope", code=2)
    assert "nope" in missing.output
