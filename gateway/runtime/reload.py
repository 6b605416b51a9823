"""Configuration reload on SIGHUP, and the signal loop of ``commgate serve``.

SIGHUP re-reads the gateway file and every project file with the same validation as start-up
(gateway/config/settings.py). A configuration that fails is refused: the one-line
:class:`~gateway.errors.ConfigError` is logged and the running one stays. A good one replaces
``app.settings`` in one assignment, after the rows of any new project are registered, so the
SMTP handler — which reads ``app.settings`` on each RCPT — accepts a new project's address
from the next transaction on. Project changes (members, stakeholders, rules, new or renamed
projects) take effect at once; listener, database, broker and ops keys are only read at start-up,
so a change to them is logged as needing a restart. Log level and format apply at once.

SIGTERM and SIGINT end the loop; the caller then stops the server gracefully
(gateway/runtime/shutdown.py).
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.app import App, sync_projects
from gateway.config.settings import GatewayConfig, Settings, load_settings
from gateway.errors import ConfigError
from gateway.observe.logs import setup_logging
from gateway.observe.metrics import CONFIG_RELOADS

log = logging.getLogger(__name__)

# Gateway keys read once at start-up: changing them needs a restart.
RESTART_KEYS = ("data_dir", "database_url", "broker_url", "projects_dir", "worker_threads",
                "sweep_interval", "smtp", "outbound", "ops")


def reload_settings(app: App, path: Path | None = None, *, debug: bool = False) -> bool:
    """Load the configuration again; install it if valid. True when it was installed."""
    try:
        new = load_settings(path or app.settings.config_path)
    except ConfigError as exc:
        log.error("configuration reload refused, the running configuration stays: %s", exc)
        CONFIG_RELOADS.labels(result="refused").inc()
        return False
    old = app.settings
    # Register new projects' rows on a copy first: intake looks up app.project_ids[code] as
    # soon as the handler sees the new address, so the ids must exist before the settings do.
    staged = dataclasses.replace(app, settings=new, project_ids=dict(app.project_ids))
    try:
        sync_projects(staged)
    except Exception as exc:  # noqa: BLE001 - the database refused: keep serving the old config
        log.error("configuration reload refused, cannot register projects: %s: %s",
                  type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        CONFIG_RELOADS.labels(result="refused").inc()
        return False
    app.project_ids.update(staged.project_ids)
    app.settings = new
    CONFIG_RELOADS.labels(result="ok").inc()
    for line in describe_changes(old, new):
        log.info("configuration reload: %s", line)
    if (old.gateway.log_format, old.gateway.log_level) != (new.gateway.log_format,
                                                           new.gateway.log_level):
        setup_logging(new.gateway, debug=debug)
    log.info("configuration reloaded: %d project(s)", len(new.projects))
    return True


def describe_changes(old: Settings, new: Settings) -> list[str]:
    """What a reload changed, one line each, for the log."""
    lines: list[str] = []
    added = sorted(set(new.projects) - set(old.projects))
    removed = sorted(set(old.projects) - set(new.projects))
    changed = sorted(code for code in set(old.projects) & set(new.projects)
                     if old.projects[code] != new.projects[code])
    if added:
        lines.append(f"project(s) added: {', '.join(added)}")
    if removed:
        lines.append(f"project(s) removed: {', '.join(removed)} (their addresses are refused "
                     "from now on; stored messages stay)")
    if changed:
        lines.append(f"project(s) changed: {', '.join(changed)}")
    imap = sorted(code for code in set(old.projects) | set(new.projects)
                  if _imap(old, code) != _imap(new, code))
    if imap:
        lines.append(f"IMAP mailbox of {', '.join(imap)} changed: pollers start or stop only "
                     "after a restart")
    restart = [key for key in RESTART_KEYS if _key(old.gateway, key) != _key(new.gateway, key)]
    if restart:
        lines.append(f"changed {', '.join(restart)}: takes effect only after a restart")
    if old.gateway.domain != new.gateway.domain:
        lines.append("the gateway domain changed: the listener's hostname keeps the old one "
                     "until a restart")
    return lines


def _imap(settings: Settings, code: str) -> Any:
    project = settings.projects.get(code)
    return project.imap if project is not None else None


def _key(cfg: GatewayConfig, key: str) -> Any:
    return getattr(cfg, key)


class Signals:
    """SIGTERM, SIGINT and SIGHUP as flags. Installed before the server starts, so a stop asked
    for while it starts (a service manager's stop, a Ctrl-C) is kept and honoured once it is up,
    as a clean shutdown, instead of killing a half-started process. The handlers only set flags:
    the reload itself runs outside the signal handler, so it may take locks and use the
    database."""

    def __init__(self) -> None:
        self.wake = threading.Event()
        self.stop = False
        self.reload = False

    def install(self) -> Signals:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._handler)
        return self

    def _handler(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        log.info("signal %s: %s", name, "reloading" if signum == signal.SIGHUP
                 else "shutting down")
        if signum == signal.SIGHUP:
            self.reload = True
        else:
            self.stop = True
        self.wake.set()


def serve_until_stopped(on_reload: Callable[[], object], signals: Signals | None = None) -> None:
    """Block until SIGTERM or SIGINT (at once if one came already); run ``on_reload`` (in this
    thread) on each SIGHUP."""
    signals = signals or Signals().install()
    while True:
        if signals.stop:
            return
        if signals.reload:
            signals.reload = False
            try:
                on_reload()
            except Exception:  # a failed reload must never take the running gateway down
                log.exception("configuration reload failed; the running configuration stays")
        signals.wake.wait(1.0)  # a timeout, so a signal is seen even if a wake-up were lost
        signals.wake.clear()
