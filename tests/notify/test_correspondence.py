"""Mail that reads like a colleague wrote it (issue 21): names from the project file in every
header and list, labels instead of raw keys, and times in the project's zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import compat32, default
from email.utils import getaddresses
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from gateway.app import App
from gateway.cli.main import app as cli
from gateway.notify import notices
from gateway.notify.compose import compose
from gateway.store.db import unit_of_work
from gateway.store.notify_models import OutboxMail

PM = "zhangwei@xdyj.example.com"
CLIENT = "huang@client.example.cn"
CHANGE = ["--set", "change_type=scope", "--set", "summary=增加巡检项", "--set", "reason=客户要求",
          "--set", "impact=每月多一次巡检", "--set", "contact=张伟"]
REC = {"id": 7, "subject": "核心交换机宕机", "category": "incident", "formality": "written",
       "urgency": "urgent", "summary": "主用核心交换机重启", "conclusion": "",
       "created_at": datetime(2026, 11, 24, 2, tzinfo=UTC), "parties": ["张伟", "黄经理"],
       "receipts": [{"recipient": CLIENT, "status": "pending", "name": "黄经理"}]}


def _raw_headers(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii")


def _names(raw: bytes) -> dict[str, str]:
    """Display names as an RFC 2047 reader decodes them: adjacent encoded words are joined
    (§6.2; the stdlib's own header parser puts a space between them, a reader does not)."""
    mail = message_from_bytes(raw, policy=compat32)
    values = [str(make_header(decode_header(str(mail[h])))) for h in ("To", "Cc") if mail[h]]
    return {addr: name for name, addr in getaddresses(values)}


def test_to_accepts_name_and_address_and_every_header_carries_names(
        make_settings: Callable[..., Any], embedded_app: App) -> None:
    settings = make_settings()
    env = {"COMMGATE_DATA_DIR": str(settings.data_dir), "COMMGATE_SECRET_KEY": "x" * 20,
           "COMMGATE_DATABASE_URL": embedded_app.settings.database_url}
    # Given `--to "黄经理 <addr>"`, a stranger with a display name in Cc, and a bare address
    result = CliRunner().invoke(cli, [
        "--config", str(settings.config_path), "notice", "send", "change", "-p", "demo",
        "--from", f"张伟 <{PM}>", "--to", f"黄经理 <{CLIENT}>",
        "--cc", "王工 <wang@supplier.example.com>", "--cc", "he@client.example.cn", *CHANGE],
        env=env)
    assert result.exit_code == 0, result.output
    with unit_of_work(embedded_app.sessions) as s:
        raws = [m.raw for m in s.scalars(select(OutboxMail).order_by(OutboxMail.id))]
    assert raws
    for raw in raws:
        mail = message_from_bytes(raw, policy=default)
        names = _names(raw)
        # Then every address has its name: configured, typed, or the project's own
        assert names[CLIENT] == "黄经理"
        assert names["he@client.example.cn"] == "何工"
        assert names["wang@supplier.example.com"] == "王工"
        assert names["proj-demo@gw.example.com"] == "示例运维项目（核心网络运维）"
        # RFC 2047 on the wire, never raw UTF-8 in a header
        assert "=?utf-8?" in _raw_headers(raw)
        # And the Date is the project's time (Asia/Shanghai), not UTC
        assert str(mail["Date"]).endswith("+0800")


def test_compose_names_bare_addresses_from_the_project_file(embedded_app: App) -> None:
    project = embedded_app.settings.project("demo")
    msg = compose(settings=embedded_app.settings, project=project,
                  sender=(project.name, project.address), to=[CLIENT],
                  cc=["zhoumin@xdyj.example.com", "x@unknown.example.org"], subject="s",
                  text="t", html=None, automated=True)
    parsed = message_from_bytes(bytes(msg), policy=default)
    assert [a.display_name for a in parsed["To"].addresses] == ["黄经理"]
    assert [a.display_name for a in parsed["Cc"].addresses] == ["周敏", ""]


def test_record_copy_reads_labels_not_keys(embedded_app: App) -> None:
    project = embedded_app.settings.project("demo")
    for language, expected, raw_keys in (
            ("zh-CN", ["类别：故障/事件", "形式：书面", "紧急程度：紧急", "黄经理：待确认"],
             ["incident", "written", "urgent", "pending"]),
            ("en", ["Category: Incident", "Formality: Written", "Urgency: Urgent",
                    "黄经理: Pending"], [": incident", ": written", ": urgent", ": pending"])):
        prepared = notices.prepare(embedded_app.settings, project, kind="record_cc", sender=PM,
                                   to=[CLIENT], values={"record": "7"}, record=REC,
                                   record_id=7, language=language)
        [rendered] = prepared.rendered
        for text in (rendered.text, rendered.html):
            for key in raw_keys:
                assert key not in text, (language, key)
        for label in expected:
            assert label in rendered.text, (language, label)


def test_a_notice_carries_the_senders_signature_block(embedded_app: App) -> None:
    project = embedded_app.settings.project("demo")
    values = {"change_type": "scope", "summary": "增加巡检项", "reason": "客户要求",
              "impact": "每月多一次巡检", "contact": "张伟"}
    for language, phone in (("zh-CN", "电话：138-0000-0000"), ("en", "Phone: 138-0000-0000")):
        prepared = notices.prepare(embedded_app.settings, project, kind="change", sender=PM,
                                   to=[CLIENT], values=values, language=language)
        [rendered] = prepared.rendered
        tail = rendered.text.rsplit("-- \n", 1)[1]
        assert "张伟" in tail and "项目经理" in tail and phone in tail
        assert project.name in tail
        assert "项目经理" in rendered.html and "138-0000-0000" in rendered.html
    # gateway mail (a record copy) is the project's, not a person's: no personal signature
    copy = notices.prepare(embedded_app.settings, project, kind="record_cc", sender=PM,
                           to=[CLIENT], values={"record": "7"}, record=REC, record_id=7)
    assert "138-0000-0000" not in copy.rendered[0].text
