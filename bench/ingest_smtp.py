"""Benchmark: durable SMTP ingest (``commgate serve``, embedded SQLite) vs a bare aiosmtpd sink.

    python bench/ingest_smtp.py [--clients 8] [--seconds 5]

Each server runs in its own child process (so client threads do not share its GIL): the gateway
as ``Server(run_workers=False)`` — intake only, durable before 250, logging as ``commgate
serve`` does (INFO, one line per stored message), with its intake writer process as in
``commgate serve`` (``[smtp] writer = "process"``; ``--writer thread`` measures the in-process
committer) — and a stock aiosmtpd ``SMTP`` whose handler discards the message.
Both get one second of traffic before anything is measured. Printed:

1. accepted messages/s with N concurrent clients, 1 KiB and 100 KiB, gateway vs sink, and ratio;
2. 250-reply latency p50/p99 at a steady 100 msg/s (open loop, 1 KiB);
3. the delay a 10 MB message in one session adds to other sessions' replies.

Targets: 1 KiB ≥ 0.8× sink; 100 KiB ≥ 100 msg/s; p99 ≤ 100 ms at 100 msg/s; 10 MB ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RCPT = "proj-demo@gw.example.com"


# --- the servers, each in a child process ------------------------------------------------------


def serve_sink(port: int) -> None:
    import asyncio

    from aiosmtpd.smtp import SMTP

    class Discard:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 2.0.0 OK: discarded"

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(Discard(), data_size_limit=32 * 1024 * 1024, enable_SMTPUTF8=True,
                     loop=loop), host="127.0.0.1", port=port))
    print("ready", flush=True)
    loop.run_until_complete(server.serve_forever())


def serve_gateway(port: int, root: Path, writer: str = "process") -> None:
    sys.path.insert(0, str(REPO))
    from gateway.app import build_app
    from gateway.config.settings import load_settings
    from gateway.jobs.actors import make_jobs
    from gateway.observe.logs import setup_logging
    from gateway.runtime.server import Server

    env = {"COMMGATE_DATA_DIR": str(root / "var"), "COMMGATE_SMTP__PORT": str(port),
           "COMMGATE_SECRET_KEY": "bench-secret-0123456789",
           "COMMGATE_SMTP__MAX_CONNECTIONS_PER_IP": "100", "COMMGATE_SMTP__WRITER": writer}
    settings = load_settings(root / "config" / "gateway.toml", env)
    setup_logging(settings.gateway)  # as `commgate serve` logs: INFO, one line per message
    app = build_app(settings)
    server = Server(app, make_jobs(""), run_workers=False)
    server.start()
    print("ready", flush=True)
    threading.Event().wait()


def start_child(kind: str, port: int, root: Path, *extra: str) -> subprocess.Popen[str]:
    log = (root / f"{kind}.log").open("w")
    proc = subprocess.Popen([sys.executable, __file__, f"--{kind}", str(port), str(root), *extra],
                            stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{kind} did not start")
    return proc


# --- a minimal client -----------------------------------------------------------------------


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.reply()
        self.command(b"EHLO bench.example")

    def reply(self) -> int:
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("closed")
            if line[3:4] != b"-":
                return int(line[:3])

    def command(self, line: bytes) -> int:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def send(self, payload: bytes) -> float:
        """One transaction; returns seconds from the end of data to the 250."""
        self.sock.sendall(b"MAIL FROM:<bench@xdyj.example.com>\r\nRCPT TO:<" + RCPT.encode()
                          + b">\r\nDATA\r\n")
        codes = (self.reply(), self.reply(), self.reply())
        assert codes == (250, 250, 354), codes
        self.sock.sendall(payload)
        sent = time.perf_counter()
        code = self.reply()
        assert code == 250, code
        return time.perf_counter() - sent


class SmtplibClient:
    """The standard library's client, as most scripts and small MTAs talk: no pipelining, one
    round trip per command (here it gave the same ratio as :class:`Client`)."""

    def __init__(self, port: int) -> None:
        import smtplib

        self.smtp = smtplib.SMTP("127.0.0.1", port)
        self.smtp.ehlo("bench.example")

    def send(self, payload: bytes) -> float:
        started = time.perf_counter()
        self.smtp.sendmail("bench@xdyj.example.com", [RCPT], payload[:-3])  # it adds the dot
        return time.perf_counter() - started


CLIENTS: dict[str, Any] = {"raw": Client, "smtplib": SmtplibClient}
_counter = iter(range(10**9))
_counter_lock = threading.Lock()


def message(size: int) -> bytes:
    with _counter_lock:
        n = next(_counter)
    head = (f"From: bench@xdyj.example.com\r\nTo: {RCPT}\r\nSubject: bench {n}\r\n"
            f"Message-ID: <bench-{n}-{os.getpid()}@xdyj.example.com>\r\n\r\n").encode()
    line = b"x" * 76 + b"\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body + b".\r\n"


# --- measurements ---------------------------------------------------------------------------


def throughput(port: int, clients: int, size: int, seconds: float,
               kind: str = "raw") -> float:
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def run(i: int) -> None:
        client = CLIENTS[kind](port)
        while time.perf_counter() < stop:
            client.send(message(size))
            done[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - started)


def steady_latency(port: int, clients: int, rate: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)

    def run(i: int) -> None:
        client = Client(port)
        for k in range(i, total, clients):
            due = start + k / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            latency = client.send(message(1024))
            with lock:
                latencies.append(latency)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies


def big_message_delay(port: int, others: int) -> tuple[float, float, float]:
    """(baseline p50, worst reply of other sessions while 10 MB is in flight, its own time)."""
    window: list[float] = []
    stop = threading.Event()
    during = threading.Event()
    baseline: list[float] = []

    def other() -> None:
        client = Client(port)
        while not stop.is_set():
            latency = client.send(message(1024))
            (window if during.is_set() else baseline).append(latency)
            time.sleep(0.01)

    threads = [threading.Thread(target=other) for _ in range(others)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    big = Client(port)
    payload = message(10 * 1024 * 1024)
    during.set()
    started = time.perf_counter()
    big.send(payload)
    took = time.perf_counter() - started
    during.clear()
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    return statistics.median(baseline), max(window, default=0.0), took


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sink", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=tuple(CLIENTS), default="raw",
                        help="raw: a minimal pipelining client (default, the hardest on the "
                             "server); smtplib: the standard library's")
    parser.add_argument("--writer", choices=("process", "thread"), default="process",
                        help="where the gateway writes and commits (default: process)")
    parser.add_argument("--gateway", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        return serve_sink(int(args.sink[0]))
    if args.gateway:
        return serve_gateway(int(args.gateway[0]), Path(args.gateway[1]), *args.gateway[2:])

    root = Path(tempfile.mkdtemp(prefix="commgate-bench-"))
    shutil.copytree(REPO / "config", root / "config")
    ports = {kind: free_port() for kind in ("sink", "gateway")}
    children = {"sink": start_child("sink", ports["sink"], root),
                "gateway": start_child("gateway", ports["gateway"], root, args.writer)}
    try:
        print(f"{args.clients} clients, {args.seconds:.0f} s per run, {os.cpu_count()} CPUs, "
              f"{args.client} client, writer {args.writer}, data in {root}")
        for port in ports.values():  # warm-up: first-use imports and caches, in both servers
            throughput(port, args.clients, 1024, 1.0)
        for size, label in ((1024, "1 KiB"), (100 * 1024, "100 KiB")):
            sink = throughput(ports["sink"], args.clients, size, args.seconds, args.client)
            gw = throughput(ports["gateway"], args.clients, size, args.seconds, args.client)
            print(f"{label:>8}: sink {sink:8.0f} msg/s   serve {gw:8.0f} msg/s   "
                  f"ratio {gw / sink:5.2f}")
        lat = steady_latency(ports["gateway"], args.clients, 100.0, max(args.seconds, 5.0))
        print(f"steady 100 msg/s: 250 after p50 {pct(lat, .5) * 1000:6.1f} ms   "
              f"p99 {pct(lat, .99) * 1000:6.1f} ms   ({len(lat)} messages)")
        for kind in ("sink", "gateway"):
            base, worst, took = big_message_delay(ports[kind], 4)
            print(f"10 MB in one session ({kind:>7}): others' worst reply {worst * 1000:6.0f} ms "
                  f"(baseline p50 {base * 1000:5.1f} ms, added {max(0, worst - base):5.2f} s); "
                  f"its own 250 after {took:5.2f} s")
    finally:
        for proc in children.values():
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
