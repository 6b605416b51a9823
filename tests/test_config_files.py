"""A config file that is not UTF-8, or empty, is a one-line error (issue 16): exit 2 on start,
and on SIGHUP the running configuration stays with one log line, no traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.app import App
from gateway.config.settings import Settings, load_settings
from gateway.errors import ConfigError
from gateway.runtime.reload import reload_settings
from tests.support.apps import app_factory
from tests.test_cli import commgate

BROKEN = [
    pytest.param(b'domain = "gw.example.com"\n# \xb2\xe2\xca\xd4 (GBK)\n', "not UTF-8 text",
                 id="gbk"),
    pytest.param(b"", "the file is empty", id="empty"),
    pytest.param(b"  \n\n", "the file is empty", id="blank"),
]


@pytest.mark.parametrize(("content", "said"), BROKEN)
def test_a_broken_gateway_file_is_one_config_error(config_dir: Path, content: bytes,
                                                   said: str) -> None:
    (config_dir / "gateway.toml").write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(config_dir / "gateway.toml", {"COMMGATE_DATA_DIR": str(config_dir)})
    assert said in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_project_file_that_is_not_utf8_is_named(config_dir: Path) -> None:
    demo = config_dir / "projects" / "demo.toml"
    demo.write_bytes(demo.read_text(encoding="utf-8").encode("gb18030"))
    with pytest.raises(ConfigError) as caught:
        load_settings(config_dir / "gateway.toml", {"COMMGATE_DATA_DIR": str(config_dir)})
    assert "demo.toml" in str(caught.value) and "not UTF-8" in str(caught.value)


@pytest.mark.parametrize("command", [["check-config"], ["serve"]])
@pytest.mark.parametrize(("content", "said"), BROKEN[:2])
def test_the_command_line_exits_2_with_one_line(config_dir: Path, command: list[str],
                                                content: bytes, said: str) -> None:
    (config_dir / "gateway.toml").write_bytes(content)
    proc = commgate(*command, cwd=config_dir.parent, check=False,
                    env={"COMMGATE_SECRET_KEY": "test-secret-key-0123456789"})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("content", "said"), BROKEN[:2])
def test_a_reload_of_a_broken_file_keeps_the_running_config(
        make_settings: Callable[..., Settings], config_dir: Path,
        caplog: pytest.LogCaptureFixture, content: bytes, said: str) -> None:
    with app_factory(make_settings) as make:
        app: App = make()
        running = app.settings
        (config_dir / "gateway.toml").write_bytes(content)
        with caplog.at_level(logging.INFO, logger="gateway.runtime.reload"):
            assert reload_settings(app) is False
        assert app.settings is running
        refused = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(refused) == 1 and refused[0].exc_info is None
        assert said in refused[0].getMessage()
