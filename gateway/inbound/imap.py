"""IMAP intake: one thread per configured project mailbox, inside ``commgate serve``.

Each poller connects (TLS, STARTTLS or plain, per project config), logs in with the password from
the environment variable the config names, and then alternates a sync pass
(gateway/inbound/imap_sync.py) with waiting: IDLE (RFC 2177) when the server offers it, so new
mail arrives within a second, otherwise a plain sleep of ``poll_interval``. IDLE is renewed every
``poll_interval`` (and at most every 29 minutes, RFC 2177 §3), with a sync each time, so a missed
notification costs at most one interval. Any failure — server restart, network, database —
closes the connection and retries with exponential back-off up to ``max_backoff``. ``stop()``
ends the thread within about a second.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from imapclient import IMAPClient

from gateway.app import App
from gateway.config.env import environment
from gateway.config.settings import ImapMailbox
from gateway.errors import ConfigError
from gateway.inbound.imap_sync import account_of, sync_folder
from gateway.observe.metrics import imap_polled

log = logging.getLogger(__name__)

IDLE_MAX = 29 * 60.0


class ImapPoller:
    """Keeps one project's mailbox drained into the gateway until stopped."""

    def __init__(self, app: App, project: str, cfg: ImapMailbox,
                 on_stored: Callable[[int], object], *, password: str) -> None:
        self.app = app
        self.project = project
        self.cfg = cfg
        self.on_stored = on_stored
        self._password = password
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0  # completed sync passes (tests and logs)
        self.connects = 0

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"commgate-imap-{self.project}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("IMAP poller for %s did not stop within %.0f s", self.project,
                            timeout)

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                with self.connect() as client:
                    failures = 0
                    self._serve(client)
            except Exception as exc:  # noqa: BLE001 - any failure: reconnect after a pause
                if self._stop.is_set():
                    break
                failures += 1
                delay = min(self.cfg.max_backoff, 2.0 ** min(failures - 1, 16))
                delay *= random.uniform(0.8, 1.0)
                log.warning("IMAP %s for %s failed (%s: %s); reconnecting in %.1f s",
                            account_of(self.cfg), self.project, type(exc).__name__, exc, delay)
                self._stop.wait(delay)
        log.info("IMAP poller for %s stopped", self.project)

    # --- one connection -----------------------------------------------------------------------

    def connect(self) -> IMAPClient:
        cfg = self.cfg
        context = ssl.create_default_context(cafile=cfg.ca_file or None)
        client = IMAPClient(cfg.host, port=cfg.effective_port, ssl=cfg.security == "tls",
                            ssl_context=context, timeout=30)
        try:
            if cfg.security == "starttls":
                client.starttls(context)
            client.login(cfg.user, self._password)
        except BaseException:
            client.shutdown()
            raise
        self.connects += 1
        log.info("IMAP %s connected for %s (%s)", account_of(cfg), self.project, cfg.security)
        return client

    def _serve(self, client: IMAPClient) -> None:
        cfg = self.cfg
        if cfg.after_store == "move" and not client.folder_exists(cfg.move_to):
            client.create_folder(cfg.move_to)
        idle = cfg.idle and client.has_capability("IDLE")
        while not self._stop.is_set():
            sync_folder(self.app, self.project, cfg, client, self.on_stored,
                        self._stop.is_set)
            imap_polled(self.project, f"{account_of(cfg)}/{cfg.folder}", self.app.clock())
            self.passes += 1
            if idle:
                self._idle(client, min(cfg.poll_interval, IDLE_MAX))
            else:
                self._stop.wait(cfg.poll_interval)

    def _idle(self, client: IMAPClient, seconds: float) -> None:
        """Wait in IDLE until the server reports a change, ``seconds`` pass, or we stop."""
        client.idle()
        try:
            deadline = time.monotonic() + seconds
            while not self._stop.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                responses: list[Any] = client.idle_check(timeout=min(1.0, remaining))
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    break
        finally:
            client.idle_done()


def make_pollers(app: App, on_stored: Callable[[int], object], *,
                 environ: Mapping[str, str] | None = None) -> list[ImapPoller]:
    """One poller per project with an ``[imap]`` table; a missing password fails loudly."""
    environ = environment() if environ is None else environ
    pollers: list[ImapPoller] = []
    for code, project in sorted(app.settings.projects.items()):
        if project.imap is None:
            continue
        password = environ.get(project.imap.password_env, "")
        if not password:
            raise ConfigError(f"environment variable {project.imap.password_env} is not set",
                              file=f"projects/{code}.toml", key="imap.password_env",
                              hint="export the IMAP password in that variable")
        pollers.append(ImapPoller(app, code, project.imap, on_stored, password=password))
    return pollers
