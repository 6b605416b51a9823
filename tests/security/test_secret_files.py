"""Secrets and files (issue 16): the secret key file is made without a race, a bad one is
refused in one line, and the data folder, database, Maildir files and archives are private."""

from __future__ import annotations

import multiprocessing
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.app import App
from gateway.archive.export import export_project
from gateway.config.settings import Settings, load_settings
from gateway.errors import ConfigError
from tests.support.apps import app_factory

STARTERS = 8


def _start(config: str, data_dir: str, barrier: Any, results: Any) -> None:
    """One gateway process starting: load the settings (which makes the key if none exists)."""
    barrier.wait()
    try:
        key = load_settings(Path(config), {"COMMGATE_DATA_DIR": data_dir}).secret_key
        results.put(("ok", key.decode()))
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def test_eight_processes_starting_together_share_one_key(config_dir: Path,
                                                         tmp_path: Path) -> None:
    # Given no key file yet, When 8 processes start at the same moment
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(STARTERS), ctx.Queue()
    data_dir = tmp_path / "fresh"
    procs = [ctx.Process(target=_start, args=(str(config_dir / "gateway.toml"), str(data_dir),
                                              barrier, results)) for _ in range(STARTERS)]
    for proc in procs:
        proc.start()
    got = [results.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    # Then every one of them loaded the same, whole key
    assert [kind for kind, _ in got] == ["ok"] * STARTERS, got
    keys = {key for _, key in got}
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert (data_dir / "secret_key").read_text().strip() == got[0][1]
    assert [p.name for p in data_dir.iterdir()] == ["secret_key"]  # no temporary left behind
    assert stat.S_IMODE((data_dir / "secret_key").stat().st_mode) == 0o600


@pytest.mark.parametrize(("content", "said"), [("", "empty"), ("\n", "empty"),
                                               ("abc123\n", "too short")])
def test_an_empty_or_short_key_file_is_refused_in_one_line(config_dir: Path, tmp_path: Path,
                                                           content: str, said: str) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "secret_key").write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(config_dir / "gateway.toml", {"COMMGATE_DATA_DIR": str(data_dir)})
    assert said in str(caught.value) and "secret_key" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert (data_dir / "secret_key").read_text() == content  # never replaced behind our back


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_database_and_archives_are_private(
        make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    # Given a data folder someone made world-readable
    (tmp_path / "var").mkdir(mode=0o755)
    with app_factory(make_settings) as make:
        app: App = make()
        # Then starting the gateway makes it the owner's only, and the database with it
        assert mode(app.settings.data_dir) == 0o700
        assert mode(app.settings.data_dir / "commgate.db") == 0o600
        # And an archive is written 0600
        result = export_project(app, "demo", tmp_path / "out" / "demo.zip", actor="test")
        assert mode(result.path) == 0o600
