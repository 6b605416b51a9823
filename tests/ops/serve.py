"""A real ``python -m gateway serve`` in a subprocess, its stderr read line by line, and a raw
SMTP client that controls every byte (to hold a DATA open across a signal)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.mail import wait_for

REPO = Path(__file__).resolve().parents[2]


class Serve:
    """``commgate serve`` on free loopback ports (SMTP and ops), SQLite under ``data_dir``."""

    def __init__(self, config: Path, data_dir: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO), "COMMGATE_DATA_DIR": str(data_dir),
               "COMMGATE_DATABASE_URL": "", "COMMGATE_BROKER_URL": "",
               "COMMGATE_SMTP__PORT": "0", "COMMGATE_OPS__PORT": "0",
               "COMMGATE_SWEEP_INTERVAL": "0.5",
               "COMMGATE_SECRET_KEY": "test-secret-key-0123456789"}
        env.pop("COMMGATE_CONFIG", None)
        self.database = data_dir / "commgate.db"
        prepare_database(config, env)
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--config", str(config), "serve"],
            cwd=config.parent, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        banner = wait_for(lambda: self.find("commgate serving") or self.exited(), timeout=60)
        assert isinstance(banner, str), "\n".join(self.lines)
        smtp = re.search(r"SMTP [\d.]+:(\d+)", banner)
        ops = re.search(r"ops (http://\S+?);", banner)
        assert smtp and ops, banner
        self.smtp_port = int(smtp.group(1))
        self.ops_url = ops.group(1)

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def find(self, text: str, after: int = 0) -> str | None:
        return next((line for line in self.lines[after:] if text in line), None)

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def signal(self, signum: signal.Signals) -> None:
        self.proc.send_signal(signum)

    def stop(self) -> int:
        """SIGTERM and wait; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=60)
        finally:
            self._close_pipe()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self._close_pipe()

    def _close_pipe(self) -> None:
        """The reader ends at EOF once the process is gone; then its pipe is closed."""
        self._reader.join(timeout=5)
        if self.proc.stderr is not None and not self._reader.is_alive():
            self.proc.stderr.close()


def prepare_database(config: Path, env: dict[str, str]) -> None:
    """The schema, built by the migrations before the gateway starts."""
    from gateway.config.settings import load_settings
    from gateway.store.db import make_engine, upgrade

    engine = make_engine(load_settings(config, env).database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


class RawSmtp:
    """One SMTP connection driven line by line."""

    def __init__(self, port: int | None) -> None:
        assert port is not None
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.file = self.sock.makefile("rb")
        self.greeting = self.reply()

    def reply(self) -> tuple[int, str]:
        lines: list[str] = []
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            lines.append(line[4:].decode().rstrip("\r\n"))
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def command(self, line: str) -> tuple[int, str]:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return False
    except OSError:
        return True
