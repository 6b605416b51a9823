"""Unknown values and ids on the command line: one line naming the valid choices, exit 2.

Every command runs in-process through typer's CliRunner against a real SQLite database made
from the shipped config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from gateway.cli.main import app as cli
from gateway.store.states import CATEGORIES


@pytest.fixture
def run(make_settings: Callable[..., Any]) -> Callable[..., Result]:
    settings = make_settings()
    env = {"COMMGATE_DATA_DIR": str(settings.data_dir), "COMMGATE_SECRET_KEY": "x" * 20}

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["--config", str(settings.config_path), *args], env=env)

    return invoke


def _one_line(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_a_misspelt_category_names_the_categories(run: Callable[..., Result]) -> None:
    line = _one_line(run("records", "list", "-p", "demo", "--category", "directiv"))
    assert "--category directiv: not a valid value" in line
    assert all(c in line for c in CATEGORIES)
    assert "no records" not in line


@pytest.mark.parametrize(("args", "named"), [
    (("records", "list", "-p", "demo", "--group", "client"), ["customer", "leadership"]),
    (("records", "export", "-p", "demo", "--format", "xml"), ["jsonl", "json", "csv"]),
    (("records", "export", "-p", "demo", "--category", "minutes"), ["meeting_minutes"]),
    (("messages", "list", "-p", "demo", "--state", "quarantine"), ["quarantined"]),
    (("outbox", "list", "--state", "done"), ["queued", "sent", "failed"]),
    (("receipts", "list", "-p", "demo", "--status", "ok"), ["pending", "confirmed"]),
    (("connectors", "list", "--state", "done"), ["pending", "sent"]),
    (("report", "weekly", "-p", "demo", "--lang", "fr"), ["zh-CN", "en"]),
    (("plan", "-p", "demo", "--lang", "fr"), ["zh-CN", "en"]),
    (("notice", "send", "change", "-p", "demo", "--lang", "fr"), ["zh-CN", "en"]),
    (("outbox", "list", "--project", "nope"), ["demo"]),
    (("connectors", "list", "--project", "nope"), ["demo"]),
])
def test_unknown_option_values_name_the_valid_ones(run: Callable[..., Result],
                                                   args: tuple[str, ...],
                                                   named: list[str]) -> None:
    line = _one_line(run(*args))
    assert all(word in line for word in named), line


def test_unknown_ids_are_named(run: Callable[..., Result]) -> None:
    retry = _one_line(run("outbox", "retry", "999"))
    assert "no outbox mail 999" in retry and "No row was found" not in retry
    replay = _one_line(run("messages", "replay", "999"))
    assert "no message 999" in replay and "skipped" not in replay
    report = _one_line(run("report", "incident", "-p", "demo", "--record", "999"))
    assert "no record 999 in project demo" in report
    record_cc = _one_line(run("notice", "send", "record_cc", "-p", "demo", "--set", "record=999"))
    assert "no record 999 in project demo" in record_cc
    not_an_id = _one_line(run("notice", "send", "record_cc", "-p", "demo", "--set", "record=x"))
    assert "give a record id" in not_an_id and "unexpected" not in not_an_id


def test_a_period_that_is_no_month_names_the_formats(run: Callable[..., Result]) -> None:
    line = _one_line(run("report", "weekly", "-p", "demo", "--period", "2026-49"))
    assert "'2026-49'" in line
    for example in ("2026-11", "2026-W49", "2026-11-01..2026-11-15"):
        assert example in line
    assert _one_line(run("report", "monthly", "-p", "demo", "--period", "November"))


@pytest.mark.parametrize(("args", "words"), [
    (("records", "list", "-p", "demo", "--since", "yesterday"), ["'--since'",
                                                                "commgate records list --help"]),
    (("outbox", "retry", "abc"), ["integer", "commgate outbox retry --help"]),
    (("records", "list"), ["Missing option '--project'"]),
    (("recrods", "list"), ["No such command 'recrods'", "commgate --help"]),
])
def test_usage_errors_are_one_line_too(run: Callable[..., Result], args: tuple[str, ...],
                                       words: list[str]) -> None:
    line = _one_line(run(*args))
    assert line.startswith("commgate: ")
    assert all(word in line for word in words), line
    assert "╭" not in line and "Usage:" not in line
