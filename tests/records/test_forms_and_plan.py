"""The policy's attachments: the key communication record form (关键沟通记录表) of one record and
the project communication plan (项目沟通计划), zh-CN first and English, HTML escaped."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.app import App
from gateway.config.settings import Settings
from gateway.records.forms import md_escape
from gateway.records.plan import render_plan
from tests.records.conftest import Deliver, with_attachment
from tests.support.mail import make_mail

HOSTILE = '<script>alert("x")</script>'
HOSTILE_NAME = "<img src=x onerror=alert(1)>"  # no "/": the parser keeps it whole
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def hostile_record(records_app: App, deliver: Deliver) -> int:
    msg = with_attachment(make_mail(subject=f"【决策】{HOSTILE} 割接窗口",
                                    sender=f'"{HOSTILE}" <huang@client.example.cn>',
                                    to="zhangwei@xdyj.example.com",
                                    body=f"{HOSTILE}\n结论：割接定于周六凌晨<b>2点</b>。"),
                          f"{HOSTILE_NAME}.pdf")
    deliver(msg)
    from sqlalchemy import select

    from gateway.store.db import unit_of_work
    from gateway.store.models import Record

    with unit_of_work(records_app.sessions) as session:
        return int(session.scalars(select(Record.id)).one())


@pytest.mark.parametrize(("lang", "title", "conclusion_label"),
                         [("zh-CN", "关键沟通记录表", "沟通结论"),
                          ("en", "Key communication record form", "Conclusion")])
def test_the_record_form_renders_as_html_with_every_value_escaped(
        hostile_record: int, cli: Callable[..., Any], out_dir: Path, lang: str, title: str,
        conclusion_label: str) -> None:
    out = out_dir / "form.html"
    cli("records", "form", str(hostile_record), "--project", "demo", "--lang", lang,
        "--out", str(out))
    html = out.read_text(encoding="utf-8")
    assert title in html and conclusion_label in html
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "割接定于周六凌晨&lt;b&gt;2点&lt;/b&gt;。" in html
    assert "&lt;img src=x onerror=alert(1)&gt;.pdf" in html  # the attachment name
    assert "<img" not in html
    assert "huang@client.example.cn" in html
    assert ("客户" if lang == "zh-CN" else "customer") in html  # the party's group


@pytest.mark.parametrize(("lang", "words"), [("zh-CN", ["关键沟通记录表", "沟通类别：决策"]),
                                             ("en", ["Key communication record form",
                                                     "Category:          decision"])])
def test_the_record_form_renders_as_text(hostile_record: int, cli: Callable[..., Any],
                                         lang: str, words: list[str]) -> None:
    text = cli("records", "form", str(hostile_record), "--project", "demo",
               "--lang", lang).stdout
    for word in words:
        assert word in text
    assert HOSTILE in text  # plain text shows what was written


def test_the_form_refuses_other_file_types_and_languages(
        hostile_record: int, cli: Callable[..., Any], out_dir: Path) -> None:
    assert ".html or .txt" in cli("records", "form", str(hostile_record), "--project", "demo",
                                  "--out", str(out_dir / "x.pdf"), code=2).output
    assert "unknown language" in cli("records", "form", str(hostile_record), "--project",
                                     "demo", "--lang", "fr", code=2).output
    assert "no record 99" in cli("records", "form", "99", "--project", "demo", code=2).output


def _hostile_project(settings: Settings) -> Any:
    project = settings.project("demo")
    row = project.matrix[0].model_copy(update={"audience": f"{HOSTILE} | 客户",
                                               "information": "*月报* [link](javascript:x)"})
    return project.model_copy(update={"matrix": [row, *project.matrix[1:]],
                                      "name": f"{HOSTILE}项目"})


@pytest.mark.parametrize(("lang", "words"), [
    ("zh-CN", ["项目沟通计划", "沟通矩阵", "正式书面", "内容严谨，可留存，不易失真",
               "非正式口头", "日常讨论、问题初步探询", "接口人", "周敏", "黄经理"]),
    ("en", ["Project communication plan", "Communication matrix", "formal written",
            "informal oral", "Stakeholder directory", "Interface person", "周敏"])])
def test_the_plan_renders_matrix_methods_and_directory_escaped(
        make_settings: Callable[..., Settings], lang: str, words: list[str]) -> None:
    project = _hostile_project(make_settings())
    html = render_plan(project, lang=lang, fmt="html", now=NOW)
    md = render_plan(project, lang=lang, fmt="md", now=NOW)
    for word in words:
        assert word in html
        assert word in md.replace("\\", "")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>" not in md and "&lt;script&gt;" in md
    # a value cannot break the Markdown table or become a link
    assert "\\| 客户" in md and "\\[link\\]" in md and "\\*月报\\*" in md
    row = next(line for line in md.splitlines() if "客户" in line and "link" in line)
    assert row.count(" | ") == 6  # seven cells, separators of the value escaped


def test_plan_command_writes_html_and_markdown(cli: Callable[..., Any], out_dir: Path) -> None:
    cli("plan", "--project", "demo", "--out", str(out_dir))
    cli("plan", "--project", "demo", "--out", str(out_dir), "--lang", "en")
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["communication-plan-demo.en.html", "communication-plan-demo.en.md",
                     "communication-plan-demo.html", "communication-plan-demo.md"]
    assert "月度服务报告" in (out_dir / "communication-plan-demo.md").read_text(encoding="utf-8")
    assert "unknown language" in cli("plan", "--project", "demo", "--lang", "de",
                                     code=2).output
    assert "no project 'nope'" in cli("plan", "--project", "nope", code=2).output


def test_markdown_escaping_keeps_text_readable() -> None:
    assert md_escape("a|b <i>c</i> *d* [e](f)\nnext") == \
        "a\\|b &lt;i&gt;c&lt;/i&gt; \\*d\\* \\[e\\](f) next"
    assert md_escape(None) == ""


def test_the_form_lists_parties_by_their_configured_names(
        records_app: App, deliver: Deliver, cli: Callable[..., Any]) -> None:
    # Given a mail that names nobody: bare addresses only
    deliver(make_mail(subject="【决策】割接窗口定于周六", sender="zhangwei@xdyj.example.com",
                      to="huang@client.example.cn", body="割接定于周六凌晨。"))
    for lang in ("zh-CN", "en"):
        text = cli("records", "form", "1", "--project", "demo", "--lang", lang).stdout
        # Then the form names them as the project file does (issue 21), never with a blank
        assert "黄经理 <huang@client.example.cn>" in text
        assert "张伟 <zhangwei@xdyj.example.com>" in text
        assert " <huang@" not in text.replace("黄经理 <huang@", "")
