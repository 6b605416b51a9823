"""Environment variables: settings are overridden, secrets named by settings are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.settings import load_settings
from gateway.errors import ConfigError


def test_secrets_named_by_password_env_are_not_taken_for_settings(config_dir: Path) -> None:
    settings = load_settings(config_dir / "gateway.toml", {
        "COMMGATE_OUTBOUND_PASSWORD": "relay secret",
        "COMMGATE_IMAP_DEMO_PASSWORD": "imap secret",
        "COMMGATE_SMTP__PORT": "2626",
        "COMMGATE_DATA_DIR": str(config_dir.parent / "var"),
    })
    assert settings.gateway.smtp.port == 2626


def test_a_bad_value_for_a_real_setting_is_reported_by_its_variable(config_dir: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(config_dir / "gateway.toml", {"COMMGATE_SWEEP_STALE_AFTER": "soon",
                                                   "COMMGATE_DATA_DIR": str(config_dir)})
    assert "COMMGATE_SWEEP_STALE_AFTER" in str(caught.value)
