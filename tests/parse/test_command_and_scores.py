"""The ``parse`` CLI command, and the corpus scoreboards printed for the record."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from gateway.cli.parse import register
from gateway.parse import evaluation

from .conftest import FIXTURES


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def version() -> None:  # a second command keeps "parse" a sub-command, as in the real CLI
        """Print nothing."""

    return app


def test_folder_with_json_prints_one_object_per_line() -> None:
    result = CliRunner().invoke(_app(), ["parse", str(FIXTURES), "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(list(FIXTURES.glob("*.eml")))
    by_file = {Path(row["file"]).name: row for row in rows}
    assert by_file["qqmail_reply.eml"]["own_text"] == "已确认，周五前提交变更单。"
    assert by_file["bounce_dsn.eml"]["flags"]["bounce"]["permanent"] is True


def test_readable_summary_without_json() -> None:
    result = CliRunner().invoke(_app(), ["parse", str(FIXTURES / "outlook_zh_reply.eml")])
    assert result.exit_code == 0
    assert "Subject:    答复: 【指令】请于周五前完成巡检报告" in result.stdout
    assert "收到，周五前完成。" in result.stdout


def test_missing_file_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(_app(), ["parse", "/no/such/mail.eml"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: no such file or folder: /no/such/mail.eml"
    assert "Traceback" not in result.output


def test_reply_parser_score_on_talon_and_discourse(corpora: Path) -> None:
    score = evaluation.Score()
    evaluation.score_talon(corpora, score)
    evaluation.score_discourse(corpora, score)
    print("\n" + "\n".join(score.lines()))
    assert score.passed / score.total >= 0.75


def test_bounce_score_on_flufl_bounce(corpora: Path) -> None:
    score = evaluation.Score()
    evaluation.score_bounces(corpora, score)
    print("\n" + "\n".join(score.lines()))
    detected, total = score.groups["detected"]
    assert detected / total >= 0.85
