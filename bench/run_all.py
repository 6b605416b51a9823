"""Run every benchmark and print one table: figure, target, measured, machine.

    python3 bench/run_all.py --quick          # small sizes, the whole run in a few minutes
    python3 bench/run_all.py                  # the sizes the targets are stated for (longer)
    python3 bench/run_all.py --only pipeline memory --markdown
    python3 bench/run_all.py --json results.json

Each benchmark script (bench/*.py) runs as a subprocess with the options it supports (read from
its ``--help``), and its printed figures are parsed from its text — the scripts stay as their
authors wrote them. A script that is absent is listed as such; one that fails shows its last
line. Two benchmarks are this file's own, each in a child process of it:

* ``pipeline``: N generated messages (directives, replies, change notices, Chinese text) through
  ``intake.accept`` + ``pipeline.process`` — parse, thread, classify, record, receipts — on
  SQLite and on a scratch PostgreSQL database; messages per second.
* ``memory``: one message with a 50 MB attachment (and one just under the parse limit) stored
  and processed in a fresh process; peak RSS (``ru_maxrss``) against the RSS before intake.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
sys.path.insert(0, str(REPO))


@dataclass
class Row:
    figure: str
    target: str
    measured: str
    ok: bool | None = None  # None: no target to judge by


@dataclass
class Bench:
    name: str
    script: str
    quick: list[str]
    full: list[str]
    parse: Callable[[str], list[Row]]
    rows: list[Row] = field(default_factory=list)


def _num(pattern: str, text: str) -> float | None:
    m = re.search(pattern, text, re.M)
    return float(m[1].replace(",", "")) if m else None


def _fmt(value: float | None, unit: str, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}{'' if unit == '×' else ' '}{unit}"


# --- parsers of the scripts' text ---------------------------------------------------------------

def parse_ingest(text: str) -> list[Row]:
    ratio = _num(r"1 KiB: sink\s+\S+ msg/s\s+serve\s+\S+ msg/s\s+ratio\s+([\d.]+)", text)
    big = _num(r"100 KiB: sink\s+\S+ msg/s\s+serve\s+([\d,.]+) msg/s", text)
    p99 = _num(r"steady 100 msg/s:.*p99\s+([\d.]+) ms", text)
    added = _num(r"10 MB in one session \(gateway\):.*added\s+([\d.]+) s\)", text)
    return [
        Row("SMTP ingest 1 KiB, serve ÷ bare aiosmtpd sink", "≥ 0.8×", _fmt(ratio, "×", 2),
            None if ratio is None else ratio >= 0.8),
        Row("SMTP ingest 100 KiB, durable", "≥ 100 msg/s", _fmt(big, "msg/s"),
            None if big is None else big >= 100),
        Row("SMTP 250 latency p99 at 100 msg/s", "≤ 100 ms", _fmt(p99, "ms", 1),
            None if p99 is None else p99 <= 100),
        Row("10 MB message: delay added to other sessions", "≤ 0.5 s", _fmt(added, "s", 2),
            None if added is None else added <= 0.5)]


def parse_parse(text: str) -> list[Row]:
    m = re.search(r"^ALL\s+([\d,]+)\s+([\d,.]+)\s*$", text, re.M)
    if not m:
        return []
    return [Row(f"parse stage over the corpora ({m[1]} messages)", "—", f"{m[2]} msg/s")]


def parse_threading(text: str) -> list[Row]:
    rows = []
    for backend, rate, kind, peak in re.findall(
            r"^\s*(memory|sqlite|postgresql):\s+[\d.]+s\s+([\d,]+) msg/s.*?"
            r"(traced peak|process RSS)\s+([\d.]+) MB", text, re.M):
        rows.append(Row(f"threading, {backend} ({_count(text)} messages)", "—",
                        f"{rate} msg/s, {kind} {float(peak):.0f} MB"))
    return rows


def _count(text: str) -> str:
    m = re.search(r"^([\d,]+) messages shaped", text, re.M)
    return m[1] if m else "?"


def parse_classify(text: str) -> list[Row]:
    fields = re.findall(r"^\s+(\w+)\s+([\d.]+)%$", text, re.M)
    if not fields:
        return []
    worst = min(float(v) for _f, v in fields)
    short = {"stakeholder_group": "group", "receipt_required": "receipt"}
    measured = ", ".join(f"{short.get(f, f)} {float(v):.1f}" for f, v in fields) + " %"
    return [Row("classification accuracy per field (labelled set)", "≥ 93 % each", measured,
                worst >= 93.0)]


def parse_scheduler(text: str) -> list[Row]:
    n = _num(r"^filled ([\d,]+) open receipts", text)
    find = _num(r"^find due again \(warm\)\s+([\d.]+) ms", text)
    idle = _num(r"^pass with nothing due.*?\s([\d.]+) ms", text)
    each = _num(r"^per due request: ([\d.]+) ms", text)
    label = f"{n:,.0f} open receipts, PostgreSQL" if n else "PostgreSQL"
    return [Row(f"scheduler: find due requests ({label})", "< 1 s", _fmt(find, "ms", 1),
                None if find is None else find < 1000),
            Row("scheduler: pass with nothing due", "—", _fmt(idle, "ms", 1)),
            Row("scheduler: acting on one due request", "—", _fmt(each, "ms", 1))]


def parse_report(text: str) -> list[Row]:
    m = re.search(r"monthly report over (\d+) records: best ([\d.]+) s, median ([\d.]+) s", text)
    if not m:
        return []
    return [Row(f"monthly report, {int(m[1]):,} records, PostgreSQL", "< 2 s (100k)",
                f"{m[3]} s median", float(m[3]) < 2.0)]


def parse_archive(text: str) -> list[Row]:
    m = re.search(r"export: (\d+) messages, (\d+) attachments.*?(\d+) MB zip in ([\d.]+) s "
                  r"\((\d+) msg/s\); peak RSS (\d+) MB", text)
    v = re.search(r"verify: (\d+) problem", text)
    rows = []
    if m:
        rows.append(Row(f"archive export, {m[1]} messages ({m[3]} MB zip)", "—",
                        f"{m[5]} msg/s, peak RSS {m[6]} MB"))
    if v:
        rows.append(Row("archive verify", "0 problems", f"{v[1]} problems", v[1] == "0"))
    return rows


def parse_own(text: str) -> list[Row]:
    rows = []
    for backend, n, rate, accept, process in re.findall(
            r"^pipeline (\w+): (\d+) messages, ([\d.]+) msg/s \(accept ([\d.]+) msg/s, "
            r"process ([\d.]+) msg/s\)", text, re.M):
        rows.append(Row(f"pipeline accept+process, {backend} ({n} messages)", "—",
                        f"{rate} msg/s (accept {accept}, process {process})"))
    for backend, why in re.findall(r"^pipeline (\w+): skipped \((.*)\)$", text, re.M):
        rows.append(Row(f"pipeline accept+process, {backend}", "—", f"skipped: {why[:60]}"))
    for size, raw, state, peak, before in re.findall(
            r"^memory (\d+) MB attachment: message ([\d.]+) MiB, (\w+); peak RSS (\d+) MB, "
            r"before intake (\d+) MB", text, re.M):
        rows.append(Row(f"peak memory, one message with a {size} MB attachment", "—",
                        f"{peak} MB RSS (+{int(peak) - int(before)} MB over {before}; "
                        f"{raw} MiB raw, {state})"))
    return rows


BENCHES = [
    Bench("ingest", "ingest_smtp.py", ["--seconds", "2"], [], parse_ingest),
    Bench("parse", "parse.py", [], [], parse_parse),
    Bench("threading", "threading.py", ["--count", "10000", "--backends", "memory", "sqlite"],
          ["--backends", "memory", "sqlite", "postgresql"], parse_threading),
    Bench("classify", "classify_eval.py", [], [], parse_classify),
    Bench("scheduler", "scheduler.py", ["--receipts", "10000", "--due", "100"], [],
          parse_scheduler),
    Bench("report", "report.py", ["--records", "10000"], [], parse_report),
    Bench("archive", "archive.py", ["--messages", "2000", "--large", "2", "--large-mb", "5"],
          [], parse_archive),
    Bench("pipeline", "run_all.py", ["--child", "pipeline", "--count", "200"],
          ["--child", "pipeline", "--count", "2000"], parse_own),
    Bench("memory", "run_all.py", ["--child", "memory"], ["--child", "memory"], parse_own),
]


def supported(script: Path, args: list[str]) -> list[str]:
    """Keep only the options the script's argparse knows (its --help), with their values."""
    if script.name == "run_all.py":
        return args
    helptext = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                              text=True, timeout=60, cwd=REPO).stdout
    known = set(re.findall(r"(--[\w-]+)", helptext))
    out, keep = [], True
    for arg in args:
        if arg.startswith("--"):
            keep = arg in known
        if keep:
            out.append(arg)
    return out


def run_bench(bench: Bench, *, quick: bool, timeout: float) -> None:
    script = BENCH / bench.script
    if not script.exists():
        bench.rows = [Row(bench.name, "", f"not present (bench/{bench.script})")]
        return
    args = supported(script, bench.quick if quick else bench.full)
    print(f"… {bench.name}: python3 bench/{bench.script} {' '.join(args)}", flush=True)
    began = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(script), *args], capture_output=True,
                              text=True, timeout=timeout, cwd=REPO, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        bench.rows = [Row(bench.name, "", f"timed out after {timeout:.0f} s")]
        return
    took = time.perf_counter() - began
    try:
        rows = bench.parse(proc.stdout) if proc.returncode == 0 else []
    except (ValueError, IndexError) as exc:  # the script's output changed shape
        rows = [Row(bench.name, "", f"output not understood ({exc}); run it by hand")]
    if not rows:
        last = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()[-1]
        bench.rows = [Row(bench.name, "", f"failed (exit {proc.returncode}): {last[:90]}")]
    else:
        bench.rows = rows
    print(f"  done in {took:.0f} s", flush=True)


# --- machine --------------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().split()[1]
        ram = f"{int(mem) / 2**20:.1f} GiB"
    except OSError:
        ram = "?"
    info = {"cpu": cpu, "cores": str(os.cpu_count()), "ram": ram,
            "python": platform.python_version(), "os": platform.platform(terse=True),
            "sqlite": sqlite3.sqlite_version, "postgresql": "not reachable"}
    try:
        import psycopg

        from tests.support.services import PG_ADMIN_URL
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgresql"] = str(row[0]).split()[0] if row else "?"
    except Exception:  # noqa: BLE001 - only informative
        pass
    return info


def short_machine(info: dict[str, str]) -> str:
    cpu = re.sub(r"\((R|TM)\)|CPU|Processor|@.*", "", info["cpu"]).split()
    return f"{' '.join(cpu[:3])} ×{info['cores']}"


def table(rows: list[Row], tag: str, markdown: bool) -> str:
    head = ("figure", "target", "measured", "ok", "machine")
    body = [(r.figure, r.target, r.measured, {True: "✓", False: "✗", None: ""}[r.ok], tag)
            for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |"
                                  for r in body])
    widths = [max(_width(x[i]) for x in [head, *body]) for i in range(len(head))]
    fmt = [(" " * 2).join(c + " " * (w - _width(c)) for c, w in zip(r, widths, strict=True))
           for r in [head, *body]]
    return "\n".join([fmt[0], "-" * _width(fmt[0]), *fmt[1:]])


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# --- this file's own benchmarks (child processes) -------------------------------------------------

PROJECT = "proj-demo@gw.example.com"
FILLER = ("核心交换机 CORE-SW01 光模块告警已消除，电源模块运行正常，端口利用率低于 60%。"
          "防火墙策略已按变更单调整，备份配置已上传配置库。\n")


def _settings(work: Path, database_url: str) -> object:
    from gateway.config.settings import load_settings

    shutil.copytree(REPO / "config", work / "config", dirs_exist_ok=True)
    return load_settings(work / "config" / "gateway.toml", {
        "COMMGATE_DATA_DIR": str(work / "var"), "COMMGATE_DATABASE_URL": database_url,
        "COMMGATE_SECRET_KEY": "bench-secret-key-0123456789"})


def _app(work: Path, database_url: str) -> object:
    import gateway.store.schema  # noqa: F401 - every table
    from gateway.app import build_app
    from gateway.store.db import make_engine
    from gateway.store.models import Base

    settings = _settings(work, database_url)
    engine = make_engine(settings.database_url)  # type: ignore[attr-defined]
    Base.metadata.create_all(engine)  # the models (migrations are generated elsewhere)
    engine.dispose()
    return build_app(settings, migrate=False)  # type: ignore[arg-type]


def corpus(count: int) -> list[tuple[str, bytes]]:
    """(envelope sender, raw) — threads of a directive, a 收到, a question; client mail."""
    out: list[tuple[str, bytes]] = []
    t0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    root = ""
    for i in range(count):
        kind = i % 5
        msg = EmailMessage()
        if kind == 0:
            sender, to, subject = "lina@xdyj.example.com", "liuyang@xdyj.example.com, " \
                "chenjing@xdyj.example.com", f"【指令】第{i // 5}批核心设备巡检"
            body = "刘洋、陈静：\n请于本周五前完成以下巡检，完成后回复确认。\n" + FILLER * 8
        elif kind in (1, 2):
            sender = ("liuyang@xdyj.example.com", "chenjing@xdyj.example.com")[kind - 1]
            to, subject = "lina@xdyj.example.com", f"回复: 【指令】第{i // 5}批核心设备巡检"
            own = "收到，周五前完成。" if kind == 1 else "收到，但是否需要把备用链路一起检查？"
            body = own + "\n\n------------------ Original ------------------\n" + FILLER * 8
            msg["In-Reply-To"] = msg["References"] = root
        elif kind == 3:
            sender, to = "huang@client.example.cn", "zhangwei@xdyj.example.com"
            subject, body = f"关于第{i // 5}期巡检报告", "张经理：\n请问本周巡检报告何时提供？\n"
        else:
            sender, to = "zhangwei@xdyj.example.com", "huang@client.example.cn"
            subject = f"【变更通知】第{i // 5}期割接延期"
            body = ("黄经理：\n由于备件未到货，割接顺延一周，对业务无影响。请回复确认。\n"
                    + FILLER * 3)
        msg["From"], msg["To"], msg["Cc"], msg["Subject"] = sender, to, PROJECT, subject
        msg["Date"] = format_datetime(t0 + timedelta(minutes=i))
        msg["Message-ID"] = make_msgid(domain=sender.split("@")[1])
        if kind == 0:
            root = str(msg["Message-ID"])
        msg.set_content(body)
        out.append((sender, msg.as_bytes()))
    return out


def pipeline_rate(backend: str, count: int) -> str:
    from gateway.inbound.intake import accept
    from gateway.pipeline import process

    mail = corpus(count)
    with tempfile.TemporaryDirectory(prefix="commgate-bench-") as tmp:
        def run(url: str) -> str:
            app = _app(Path(tmp), url)
            t_accept = t_process = 0.0
            states: dict[str, int] = {}
            for sender, raw in mail:
                t = time.perf_counter()
                pk = accept(app, project="demo", raw=raw, channel="smtp",  # type: ignore[arg-type]
                            envelope_from=sender, envelope_to=[PROJECT],
                            will_enqueue=False).message_pk
                t_accept += time.perf_counter() - t
                t = time.perf_counter()
                state = process(app, pk)  # type: ignore[arg-type]
                t_process += time.perf_counter() - t
                states[state] = states.get(state, 0) + 1
            app.close()  # type: ignore[attr-defined]
            total = t_accept + t_process
            return (f"pipeline {backend}: {count} messages, {count / total:.1f} msg/s "
                    f"(accept {count / t_accept:.1f} msg/s, process {count / t_process:.1f} "
                    f"msg/s) states {states}")

        if backend == "sqlite":
            return run("")
        from tests.support.services import scratch_postgres
        try:
            with scratch_postgres("commgate_bench") as url:
                return run(url)
        except BaseException as exc:  # pytest's Skipped when the server is down
            if type(exc).__name__ != "Skipped":
                raise
            return f"pipeline {backend}: skipped ({exc})"


def write_big_mail(path: Path, megabytes: int) -> None:
    """A directive with a random (incompressible) attachment, base64 streamed to disk."""
    import base64

    head = ("From: lina@xdyj.example.com\r\nTo: liuyang@xdyj.example.com\r\n"
            f"Cc: {PROJECT}\r\nSubject: =?utf-8?b?44CQ5oyH5Luk44CR?= big attachment\r\n"
            "Date: Tue, 24 Nov 2026 10:00:00 +0800\r\n"
            f"Message-ID: <big-{megabytes}@xdyj.example.com>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n'
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "请查收附件中的巡检数据，完成后回复确认。\r\n--b1\r\n"
            'Content-Type: application/octet-stream; name="dump.bin"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            'Content-Disposition: attachment; filename="dump.bin"\r\n\r\n')
    with path.open("wb") as fh:
        fh.write(head.encode())
        for _ in range(megabytes * 1024 * 1024 // 57 // 1000):
            chunk = os.urandom(57 * 1000)
            fh.write(b"".join(base64.b64encode(chunk[i:i + 57]) + b"\r\n"
                              for i in range(0, len(chunk), 57)))
        fh.write(b"--b1--\r\n")


def _rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def memory_one(megabytes: int) -> str:
    from gateway.inbound.intake import accept
    from gateway.pipeline import process

    with tempfile.TemporaryDirectory(prefix="commgate-bench-") as tmp:
        app = _app(Path(tmp), "")
        eml = Path(tmp) / "big.eml"
        write_big_mail(eml, megabytes)
        raw = eml.read_bytes()
        before = _rss_mb()
        pk = accept(app, project="demo", raw=raw, channel="smtp",  # type: ignore[arg-type]
                    envelope_from="lina@xdyj.example.com", envelope_to=[PROJECT],
                    will_enqueue=False).message_pk
        state = process(app, pk)  # type: ignore[arg-type]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux
        app.close()  # type: ignore[attr-defined]
    return (f"memory {megabytes} MB attachment: message {len(raw) / 2**20:.1f} MiB, {state}; "
            f"peak RSS {peak} MB, before intake {before} MB")


def child(args: argparse.Namespace) -> None:
    if args.child == "pipeline":
        for backend in ("sqlite", "postgresql"):
            print(pipeline_rate(backend, args.count), flush=True)
    elif args.child == "memory":
        # 50 MB as asked; 35 MB is the largest whose encoded message passes the parse
        # stage's 50 MiB limit (gateway/parse/model.py ParseLimits), so it is fully processed.
        for size in (50, 35):
            proc = subprocess.run([sys.executable, __file__, "--child", "memory-one",
                                   "--size", str(size)], capture_output=True, text=True,
                                  check=True)
            print(proc.stdout.strip(), flush=True)
    elif args.child == "memory-one":
        print(memory_one(args.size))


# --- main ---------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help=f"some of: {' '.join(b.name for b in BENCHES)}")
    parser.add_argument("--skip", nargs="+", metavar="NAME", default=[])
    parser.add_argument("--timeout", type=float, default=0,
                        help="seconds per benchmark (default 300 quick, 3600 full)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=200, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=50, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; "
          f"Python {info['python']}; {info['os']}; SQLite {info['sqlite']}; "
          f"PostgreSQL {info['postgresql']}", flush=True)
    timeout = args.timeout or (300.0 if args.quick else 3600.0)
    chosen = [b for b in BENCHES if (not args.only or b.name in args.only)
              and b.name not in args.skip]
    began = time.perf_counter()
    for bench in chosen:
        run_bench(bench, quick=args.quick, timeout=timeout)
    rows = [r for b in chosen for r in b.rows]
    print(f"\n{'quick' if args.quick else 'full'} run, {time.perf_counter() - began:.0f} s\n")
    print(table(rows, short_machine(info), args.markdown))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "quick": args.quick,
                                         "rows": [asdict(r) for r in rows]},
                                        ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
