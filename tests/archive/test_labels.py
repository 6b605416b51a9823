"""The archive is read by the quality department: every kind, state and urgency is a label in
the page's language, never a raw key like ``change`` or ``reminder`` (issue 21)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from gateway.app import App
from gateway.archive.export import export_project
from gateway.notify import notices

PM, CLIENT = "zhangwei@xdyj.example.com", "huang@client.example.cn"


def test_the_index_names_sent_mail_by_label(app: App, tmp_path: Path) -> None:
    project = app.settings.project("demo")
    prepared = notices.prepare(app.settings, project, kind="change", sender=PM, to=[CLIENT],
                               values={"change_type": "scope", "summary": "增加巡检项",
                                       "reason": "客户要求", "impact": "无", "contact": "张伟"})
    notices.send(app, prepared, project=project, now=app.clock())
    out = tmp_path / "demo.zip"
    export_project(app, "demo", out, actor="user:test")
    with zipfile.ZipFile(out) as zf:
        index = zf.read("index.html").decode()
        record = next(zf.read(n).decode() for n in zf.namelist()
                      if re.fullmatch(r"records/\d+\.html", n))
        views = [json.loads(line) for line in zf.read("records.jsonl").splitlines()]
    # the archive's records carry the project's time, with its offset
    assert views and all(v["created_at"].endswith("+08:00") for v in views)
    sent = index.split('id="sent"', 1)[1].split("</table>", 1)[0]
    assert "<td>变更通知</td>" in sent and "<td>change</td>" not in sent
    assert re.search(r"<td>(待发送|已发送)</td>", sent) and "<td>queued</td>" not in sent
    assert ">normal<" not in record and ">change_notice<" not in record
