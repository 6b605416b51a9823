"""The templates folder: the repository's by default, elsewhere when an install says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.paths import templates_dir
from gateway.errors import ConfigError


def test_a_clone_uses_its_own_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMMGATE_TEMPLATES", raising=False)
    assert (templates_dir() / "notices").is_dir()


def test_an_install_points_elsewhere_and_a_wrong_place_is_one_clear_error(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COMMGATE_TEMPLATES", str(tmp_path))
    assert templates_dir() == tmp_path
    monkeypatch.setenv("COMMGATE_TEMPLATES", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="templates folder not found"):
        templates_dir()
