"""``records list|show|export``: the public field names, the new ones, filters and CSV for Excel."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.app import App
from tests.records.conftest import Deliver, with_attachment
from tests.support.mail import make_mail

PUBLIC = {"id", "project", "thread_id", "subject", "category", "stakeholder_group", "formality",
          "urgency", "receipt_required", "receipts", "message_ids", "summary", "conclusion",
          "parties", "message_count", "reasons", "history", "created_at", "updated_at"}
ADDED = {"conclusion_by", "conclusion_at", "conclusion_source", "needs_output", "attachments"}


def _two_records(deliver: Deliver) -> None:
    first = make_mail(subject="【指令】核心交换机巡检", sender="zhangwei@xdyj.example.com",
                      to="huang@client.example.cn", body="请安排巡检。\n结论：本周六巡检。")
    deliver(with_attachment(first, "巡检表.xlsx"))
    deliver(subject="周例会", body="周例会改到周三。")


def test_json_export_keeps_every_public_field_and_adds_the_new_ones(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    _two_records(deliver)
    rows = json.loads(cli("records", "export", "--project", "demo", "--format", "json").stdout)
    assert len(rows) == 2
    assert set(rows[0]) >= PUBLIC | ADDED
    assert rows[0]["attachments"] == ["巡检表.xlsx"]
    assert rows[0]["conclusion"] == "本周六巡检。"
    assert {p["group"] for p in rows[0]["parties"]} == {"internal", "customer"}
    lines = cli("records", "export", "--project", "demo").stdout.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [r["id"] for r in rows]


def test_csv_export_to_a_file_has_a_bom_and_the_new_columns_at_the_end(
        records_app: App, deliver: Deliver, cli: Callable[..., Any], tmp_path: Path) -> None:
    _two_records(deliver)
    out = tmp_path / "records.csv"
    cli("records", "export", "--project", "demo", "--format", "csv", "--out", str(out))
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    header = list(table[0])
    assert header[:14] == ["id", "project", "thread_id", "created_at", "subject", "category",
                           "stakeholder_group", "formality", "urgency", "receipt_required",
                           "receipts", "message_ids", "summary", "conclusion"]
    assert header[14:] == ["updated_at", "parties", "attachments", "conclusion_by",
                           "conclusion_at"]
    assert table[0]["attachments"] == "巡检表.xlsx"
    # the name from the project file, though the mail carried none (issue 21)
    assert "黄经理 <huang@client.example.cn> (customer)" in table[0]["parties"]
    # times as the project reads them: ISO 8601 with the Asia/Shanghai offset
    assert table[0]["created_at"].endswith("+08:00")
    assert table[0]["updated_at"].endswith("+08:00")


def test_filters_and_show(records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    _two_records(deliver)
    only = json.loads(cli("records", "list", "--project", "demo", "--group", "customer",
                          "--json").stdout)
    assert [r["subject"] for r in only] == ["【指令】核心交换机巡检"]
    assert json.loads(cli("records", "list", "--project", "demo", "--since", "2030-01-01",
                          "--json").stdout) == []
    shown = json.loads(cli("records", "show", str(only[0]["id"]), "--project", "demo",
                           "--json").stdout)
    assert set(shown) >= PUBLIC | {"messages", "attachment_files", "findings"}
    assert shown["attachment_files"][0]["filename"] == "巡检表.xlsx"
    text = cli("records", "show", str(only[0]["id"]), "--project", "demo").stdout
    assert "attachment         巡检表.xlsx" in text
    assert "customer" in text


def test_show_search_and_json_read_in_the_projects_zone_with_names(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    # Given a record whose mail named nobody (bare addresses only)
    _two_records(deliver)
    [first, _second] = json.loads(cli("records", "export", "--project", "demo",
                                      "--format", "json").stdout)
    # Then JSON times carry the project's offset, not UTC
    assert first["created_at"].endswith("+08:00") and first["updated_at"].endswith("+08:00")
    shown = json.loads(cli("records", "show", str(first["id"]), "--project", "demo",
                           "--json").stdout)
    assert all(m["sent_at"].endswith("+08:00") for m in shown["messages"])
    assert {p["address"]: p["name"] for p in shown["parties"]}["huang@client.example.cn"] \
        == "黄经理"
    hits = json.loads(cli("records", "search", "巡检", "--project", "demo", "--json").stdout)
    assert hits and all(h["created_at"].endswith("+08:00") for h in hits)
    # And the text view lists parties and receipts by name
    text = cli("records", "show", str(first["id"]), "--project", "demo").stdout
    assert "party              黄经理 <huang@client.example.cn> customer" in text
    assert "张伟 <zhangwei@xdyj.example.com>" in text
    assert "+0000" not in text and "+00:00" not in text
