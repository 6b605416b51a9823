"""A local stand-in for DingTalk and for a generic webhook receiver: it checks signatures and
fails on demand (HTTP 500, a hang past the client's timeout), then accepts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gateway.app import App
from gateway.config.settings import Settings
from gateway.testing.clock import FakeClock
from tests.audit.helpers import build

SECRET = "SEC0123456789abcdef-test"


@dataclass
class Sink:
    """Posts it accepted (answered with success), and what it will do next."""

    port: int = 0
    plan: list[str] = field(default_factory=list)  # "500" | "hang" | "ok" (default when empty)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_step(self) -> str:
        with self.lock:
            return self.plan.pop(0) if self.plan else "ok"


def dingtalk_signature_ok(query: dict[str, list[str]]) -> bool:
    """DingTalk's check, written from its documentation independently of the gateway."""
    timestamp, sign = query["timestamp"][0], query["sign"][0]
    mac = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(mac).decode(), sign)


def handler_for(sink: Sink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            step = sink.next_step()
            if step == "500":
                return self._answer(500, {"errcode": -1, "errmsg": "system busy"})
            if step == "hang":
                time.sleep(1.5)  # the client has given up by now: nothing is accepted
                return self._answer(503, {"errcode": -1, "errmsg": "late"})
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if url.path == "/robot/send":
                if not dingtalk_signature_ok(query):
                    sink.refused.append("bad dingtalk sign")
                    return self._answer(200, {"errcode": 310000, "errmsg": "sign not match"})
                post = {"kind": "dingtalk", "body": json.loads(body)}
            else:
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers["X-Commgate-Signature"] or ""):
                    sink.refused.append("bad webhook signature")
                    return self._answer(401, {"error": "signature"})
                post = {"kind": "webhook", "body": json.loads(body),
                        "key": self.headers["Idempotency-Key"]}
            with sink.lock:
                sink.accepted.append(post)
            self._answer(200, {"errcode": 0, "errmsg": "ok"})

    return Handler


@pytest.fixture
def sink() -> Iterator[Sink]:
    state = Sink()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


WEBHOOK = """
[[connectors.sinks]]
name = "crm"
kind = "webhook"
url_env = "COMMGATE_TEST_WEBHOOK_URL"
secret_env = "COMMGATE_TEST_WEBHOOK_SECRET"
timeout = 0.5

[[connectors.sinks.rules]]
groups = ["customer"]
categories = ["change_notice"]
"""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def environ(sink: Sink) -> dict[str, str]:
    base = f"http://127.0.0.1:{sink.port}"
    return {"COMMGATE_DEMO_DINGTALK_URL": f"{base}/robot/send?access_token=test-token",
            "COMMGATE_DEMO_DINGTALK_SECRET": SECRET,
            "COMMGATE_TEST_WEBHOOK_URL": f"{base}/hooks/commgate",
            "COMMGATE_TEST_WEBHOOK_SECRET": SECRET}


@pytest.fixture
def app(make_settings: Callable[..., Settings], database_url: str, config_dir: Path,
        clock: FakeClock) -> Iterator[App]:
    """The demo project with its DingTalk robot (0.5 s timeout) and a generic webhook."""
    demo = config_dir / "projects" / "demo.toml"
    text = demo.read_text(encoding="utf-8").replace("timeout = 10.0", "timeout = 0.5")
    demo.write_text(text + WEBHOOK, encoding="utf-8")
    gw = build(make_settings, database_url, clock)
    yield gw
    gw.close()
