"""``commgate classify FILE.eml --project demo``: JSON, explanation, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from gateway.cli.classify import register
from tests.classify.conftest import FIXTURES, ROOT

MESSAGE = FIXTURES / "change_01.eml"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer in multi-command mode
        """Nothing."""

    return app


@pytest.fixture
def gateway_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f'domain = "gw.example.com"\ndata_dir = "{tmp_path / "var"}"\n'
                    f'projects_dir = "{ROOT / "config/projects"}"\n', encoding="utf-8")
    monkeypatch.setenv("COMMGATE_SECRET_KEY", "test-secret-key-0123456789")
    return path


def _run(app: typer.Typer, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["classify", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_prints_the_classification_and_stores_nothing(app: typer.Typer,
                                                           gateway_file: Path) -> None:
    code, out, _ = _run(app, str(MESSAGE), "--project", "demo", "--json",
                        "--config", str(gateway_file))
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"category", "stakeholder_group", "formality", "urgency",
                         "receipt_required", "reasons"}
    assert (data["category"], data["stakeholder_group"]) == ("change_notice", "customer")
    assert not (gateway_file.parent / "var" / "commgate.db").exists()


def test_explain_shows_chinese_labels_with_english_keys(app: typer.Typer,
                                                        gateway_file: Path) -> None:
    code, out, _ = _run(app, str(MESSAGE), "--project", "demo", "--explain",
                        "--config", str(gateway_file))
    assert code == 0
    assert "类别 category: 变更通知 (change_notice)" in out
    assert "keyword:change_notice:推迟" in out


@pytest.mark.parametrize(("args", "words"), [
    (("--project", "nope"), "no project 'nope'"),
    (("--project", "demo", "--file-missing"), "file not found"),
])
def test_errors_are_one_line_with_exit_2(app: typer.Typer, gateway_file: Path,
                                         args: tuple[str, ...], words: str) -> None:
    target = str(MESSAGE)
    if "--file-missing" in args:
        target, args = str(gateway_file.parent / "missing.eml"), args[:-1]
    code, out, err = _run(app, target, *args, "--config", str(gateway_file))
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


def test_a_missing_config_file_is_one_line(app: typer.Typer, tmp_path: Path) -> None:
    code, _, err = _run(app, str(MESSAGE), "--project", "demo",
                        "--config", str(tmp_path / "none.toml"))
    assert code == 2 and "file not found" in err
