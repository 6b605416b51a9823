"""The operations endpoint of ``commgate serve``: ``GET /healthz`` and Prometheus ``GET /metrics``.

A small threaded HTTP server on its own port (``[ops]`` in the gateway file, loopback by default),
beside the SMTP listener, so a monitor can tell "the process runs" from "the gateway can take
mail". ``/healthz`` answers 200 with a JSON summary when the database answers, a write would
succeed (gateway/runtime/probe.py: the write lock, the data folder's disk, the broker — each with a
short timeout) and the listener is up, 503 with the reasons otherwise (and while shutting down,
so a load balancer stops sending before the listener closes). ``/metrics`` is the text
exposition format of gateway/runtime/metrics.py: process-wide counters plus database gauges read
at scrape time.

Each endpoint has its own registry, so several servers in one process (tests) never collide.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from gateway.app import App
from gateway.config.settings import Ops
from gateway.errors import ConfigError
from gateway.runtime.metrics import make_registry, message_counts, missing_database_file
from gateway.runtime.probe import write_problems

log = logging.getLogger(__name__)


def check_health(app: App, *, smtp_listening: Callable[[], bool] | None = None,
                 stopping: bool = False) -> tuple[bool, dict[str, Any]]:
    """(healthy, report) — the database answers a query, can be written, and the listener (if
    enabled) is up."""
    reasons: list[str] = []
    report: dict[str, Any] = {"status": "ok", "database": "ok", "queue_depth": None,
                              "quarantined": None, "projects": len(app.settings.projects)}
    try:
        missing = missing_database_file(app)
        if missing:
            raise FileNotFoundError(missing)
        with app.engine.connect() as conn:
            counts = message_counts(conn)
        report["queue_depth"] = counts.get("received", 0)
        report["quarantined"] = counts.get("quarantined", 0)
    except (SQLAlchemyError, OSError) as exc:
        text = str(getattr(exc, "orig", None) or exc).strip()
        report["database"] = f"error: {type(exc).__name__}: {text.splitlines()[0] if text else ''}"
        reasons.append("database unavailable")
    # a real write path, each part with a short timeout (the database's only when it is read)
    problems = write_problems(app, database=report["database"] == "ok")
    report["writable"] = "ok" if not problems else "; ".join(problems)
    reasons.extend(problems)
    if smtp_listening is not None:
        listening = smtp_listening()
        report["smtp_listening"] = listening
        if not listening and app.settings.gateway.smtp.enabled:
            reasons.append("SMTP listener not running")
    if stopping:
        reasons.append("shutting down")
    if reasons:
        report["status"] = "unavailable"
        report["reason"] = "; ".join(reasons)
    return not reasons, report


class OpsServer:
    """The HTTP endpoint; :meth:`start` binds (port 0: any free port), :meth:`stop` closes."""

    def __init__(self, app: App, cfg: Ops, *,
                 smtp_listening: Callable[[], bool] | None = None) -> None:
        self.app = app
        self.cfg = cfg
        self.smtp_listening = smtp_listening
        self.registry = make_registry(app, smtp_listening=smtp_listening)
        self.stopping = False
        self.port: int | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.cfg.host}:{self.port}"

    def start(self) -> None:
        try:
            httpd = ThreadingHTTPServer((self.cfg.host, self.cfg.port), _handler_for(self))
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.cfg.host}:{self.cfg.port}: "
                              f"{exc.strerror or exc}", file="gateway.toml", key="ops.port",
                              hint="choose a free port, or set ops.enabled = false") from None
        httpd.daemon_threads = True
        self._httpd = httpd
        self.port = int(httpd.server_address[1])
        self._thread = threading.Thread(target=httpd.serve_forever, name="commgate-ops",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        log.info("ops endpoint on %s (/healthz, /metrics)", self.url)

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def health(self) -> tuple[bool, dict[str, Any]]:
        return check_health(self.app, smtp_listening=self.smtp_listening,
                            stopping=self.stopping)

    def metrics(self) -> bytes:
        return generate_latest(self.registry)


def _handler_for(ops: OpsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "commgate-ops"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                healthy, report = ops.health()
                body = json.dumps(report, ensure_ascii=False).encode() + b"\n"
                status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
                self._send(status, "application/json; charset=utf-8", body)
            elif path == "/metrics":
                self._send(HTTPStatus.OK, CONTENT_TYPE_LATEST, ops.metrics())
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8",
                           b"not found: try /healthz or /metrics\n")

        def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("ops %s %s", self.address_string(), format % args)

    return Handler


def start_role_ops(app: App, role: str) -> OpsServer | None:
    """The endpoint of a ``commgate worker`` or ``commgate scheduler`` process, on
    ``[ops] worker_port`` / ``scheduler_port``; None when that port is 0 or ops is off."""
    cfg = app.settings.gateway.ops
    port = cfg.worker_port if role == "worker" else cfg.scheduler_port
    if not cfg.enabled or port == 0:
        return None
    ops = OpsServer(app, cfg.model_copy(update={"port": port}))
    ops.start()
    return ops


def start_ops(app: App, *, smtp_listening: Callable[[], bool] | None = None,
              cfg: Ops | None = None) -> OpsServer | None:
    """Start the endpoint configured in ``[ops]``; None when it is disabled."""
    cfg = cfg or app.settings.gateway.ops
    if not cfg.enabled:
        return None
    ops = OpsServer(app, cfg, smtp_listening=smtp_listening)
    ops.start()
    return ops
