"""Every command's help explains every option, in words, without raw Python type names."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from gateway.cli.main import app

# What typer shows by default for a value's type: <bool>, <list[Path]>, <str>, <int range>…
RAW_TYPE = re.compile(r"<(?:bool|str|int|float|Path|path|file|directory|datetime|list\[[^\]]*\]"
                      r"|[a-z]+ range)>")


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command below ``group`` (typer's click groups have ``commands``)."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


ROOT = typer.main.get_command(app)
COMMANDS = [((), ROOT), *_commands(ROOT)]


@pytest.mark.parametrize(("path", "command"), COMMANDS,
                         ids=[" ".join(p) or "commgate" for p, _c in COMMANDS])
def test_every_option_has_help_and_no_raw_type(path: tuple[str, ...],
                                               command: Any) -> None:
    undocumented = [p.opts[0] for p in command.params
                    if p.param_type_name == "option" and not p.hidden
                    and not (p.help or "").strip()]
    assert not undocumented, f"{' '.join(path)}: options without help: {undocumented}"
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    raw = sorted(set(RAW_TYPE.findall(result.output)))
    assert not raw, f"commgate {' '.join(path)} --help shows raw types {raw}"


def test_list_commands_print_a_header_row(make_settings: Callable[..., Any]) -> None:
    settings = make_settings()
    env = {"COMMGATE_DATA_DIR": str(settings.data_dir), "COMMGATE_SECRET_KEY": "x" * 20}

    def run(*args: str) -> list[str]:
        result = CliRunner().invoke(app, ["--config", str(settings.config_path), *args],
                                    env=env, terminal_width=200)
        assert result.exit_code == 0, result.output
        return result.stdout.splitlines()

    # Given a change notice to the client: an outbox row, a stored message, open receipts
    fields = {"change_type": "scope", "summary": "增加巡检项", "reason": "客户要求",
              "impact": "无", "contact": "张伟"}
    run("notice", "send", "change", "-p", "demo", "--to", "huang@client.example.cn",
        *[arg for k, v in fields.items() for arg in ("--set", f"{k}={v}")])
    # Then each listing starts with a header naming its columns
    outbox = run("outbox", "list")
    assert outbox[0].split()[:4] == ["ID", "STATE", "TRY", "KIND"] and "增加巡检项" in outbox[1]
    messages = run("messages", "list", "-p", "demo")
    assert messages[0].split()[:2] == ["ID", "STATE"] and "增加巡检项" in messages[1]
    receipts = run("receipts", "list", "-p", "demo")
    assert receipts[0].split()[:2] == ["RECORD", "STATUS"] and "huang@" in receipts[1]
