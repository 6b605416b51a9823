"""What a reload reports: project changes apply at once, listener keys need a restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gateway.config.settings import Settings
from gateway.runtime.reload import describe_changes


def test_a_reload_names_added_projects_and_keys_that_need_a_restart(
        make_settings: Callable[..., Settings], config_dir: Path) -> None:
    old = make_settings()
    demo = (config_dir / "projects" / "demo.toml").read_text()
    (config_dir / "projects" / "ops2.toml").write_text(
        demo.replace('code = "demo"', 'code = "ops2"').replace("proj-demo@", "proj-ops2@"))

    new = make_settings(COMMGATE_SMTP__MAX_RECIPIENTS="200", COMMGATE_LOG_LEVEL="DEBUG")

    assert describe_changes(old, new) == [
        "project(s) added: ops2",
        "changed smtp: takes effect only after a restart",
    ]
    assert describe_changes(new, old)[0].startswith("project(s) removed: ops2")
