"""Benchmark of ``archive export`` on a generated project: time and peak memory.

    python3 bench/archive.py                          # 20k messages, 10 attachments of 50 MB
    python3 bench/archive.py --messages 2000 --large 2 --large-mb 5 --tracemalloc
    python3 bench/archive.py --database postgresql://postgres@127.0.0.1/bench

The project is generated straight into the database and raw store (one record per two
messages, every tenth message with a small Chinese-named attachment, ``--large`` messages with
a big one) — the pipeline is not what is measured. The export then runs in a fresh child
process, so its peak RSS (``ru_maxrss``) is the export's alone; ``--tracemalloc`` adds the
Python heap peak (slower). Export + verify are timed separately.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def settings_for(work: Path, database: str) -> Any:
    from gateway.config.settings import load_settings

    return load_settings(work / "config" / "gateway.toml", {
        "COMMGATE_DATA_DIR": str(work / "var"), "COMMGATE_SECRET_KEY": "bench-secret-0123456789",
        "COMMGATE_DATABASE_URL": database or f"sqlite:///{work / 'var' / 'bench.db'}"})


def mail(i: int, when: datetime, attachment: tuple[str, bytes] | None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "zhangwei@xdyj.example.com"
    msg["To"] = "huang@client.example.cn"
    msg["Cc"] = "proj-demo@gw.example.com"
    msg["Subject"] = f"【变更通知】第{i // 2}号变更：核心交换机割接时间调整"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = f"<bench-{i}@xdyj.example.com>"
    msg.set_content(f"黄经理：第{i}封。因设备到货延迟，割接顺延一周。\n原因：到货延迟。影响：无中断。\n"
                    * 5)
    if attachment:
        msg.add_attachment(attachment[1], maintype="application", subtype="octet-stream",
                           filename=attachment[0])
    return bytes(msg)


def generate(work: Path, database: str, messages: int, large: int, large_mb: int) -> None:
    from sqlalchemy import insert

    from gateway.app import build_app
    from gateway.store.db import make_engine
    from gateway.store.models import Message, Record, Thread
    from gateway.store.schema import metadata

    settings = settings_for(work, database)
    engine = make_engine(settings.database_url)
    metadata.create_all(engine)
    engine.dispose()
    app = build_app(settings, migrate=False)
    pid = app.project_ids["demo"]
    big = os.urandom(large_mb * 1024 * 1024)
    start = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    every_large = max(messages // large, 1) if large else 0
    with app.engine.begin() as conn:
        for chunk in range(0, messages, 1000):
            threads, records, rows = [], [], []
            for i in range(chunk, min(chunk + 1000, messages)):
                when = start + timedelta(minutes=10 * i)
                att: tuple[str, bytes] | None = None
                if every_large and i % every_large == 0:
                    att = (f"现场录像{i}.mp4", big)
                elif i % 10 == 0:
                    att = (f"割接方案（第{i}版）.docx", os.urandom(20_000))
                raw = mail(i, when, att)
                sha = hashlib.sha256(raw).hexdigest()  # RawStore layout, without its fsyncs
                path = app.raw.path(sha)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(raw)
                if i % 2 == 0:
                    threads.append({"id": i // 2 + 1, "project_id": pid, "created_at": when,
                                    "updated_at": when})
                    records.append({"id": i // 2 + 1, "project_id": pid,
                                    "thread_id": i // 2 + 1, "subject": f"第{i // 2}号变更",
                                    "category": "change_notice",
                                    "stakeholder_group": "customer",
                                    "formality": "formal_written", "summary": "割接顺延一周",
                                    "parties": [], "reasons": [], "history": [],
                                    "message_count": 2, "created_at": when,
                                    "updated_at": when})
                rows.append({"project_id": pid, "message_id": f"bench-{i}@xdyj.example.com",
                             "sha256": sha, "content_hash": sha, "size": len(raw),
                             "state": "processed", "received_at": when, "flags": {},
                             "to_addrs": [], "cc_addrs": [], "subject": f"第{i // 2}号变更",
                             "from_addr": "zhangwei@xdyj.example.com",
                             "thread_id": i // 2 + 1, "record_id": i // 2 + 1})
            if threads:
                conn.execute(insert(Thread), threads)
                conn.execute(insert(Record), records)
            conn.execute(insert(Message), rows)
    app.close()


def export(work: Path, database: str, out: Path, trace: bool) -> None:
    """Child process: export, report time and memory on stdout."""
    import tracemalloc

    from gateway.app import build_app
    from gateway.archive.export import export_project

    if trace:
        tracemalloc.start()
    app = build_app(settings_for(work, database), migrate=False)
    began = time.perf_counter()
    result = export_project(app, "demo", out, actor="bench")
    took = time.perf_counter() - began
    peak = tracemalloc.get_traced_memory()[1] if trace else 0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"export: {result.messages} messages, {result.attachments} attachments, "
          f"{result.records} records, {result.size / 1048576:.0f} MB zip in {took:.1f} s "
          f"({result.messages / took:.0f} msg/s); peak RSS {rss} MB"
          + (f"; Python heap peak {peak / 1048576:.1f} MB" if trace else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--large", type=int, default=10, help="messages with a big attachment")
    parser.add_argument("--large-mb", type=int, default=50)
    parser.add_argument("--database", default="", help="default: SQLite in the work folder")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--child", nargs=2, metavar=("WORK", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        export(Path(args.child[0]), args.database, Path(args.child[1]), args.tracemalloc)
        return
    work = Path(tempfile.mkdtemp(prefix="commgate-bench-"))
    shutil.copytree(ROOT / "config", work / "config")
    try:
        began = time.perf_counter()
        generate(work, args.database, args.messages, args.large, args.large_mb)
        print(f"generated {args.messages} messages in {time.perf_counter() - began:.1f} s")
        out = work / "demo-archive.zip"
        child = [sys.executable, __file__, "--child", str(work), str(out),
                 "--database", args.database] + (["--tracemalloc"] if args.tracemalloc else [])
        subprocess.run(child, check=True)
        from gateway.archive.verify import verify_archive

        began = time.perf_counter()
        problems = verify_archive(out)
        print(f"verify: {len(problems)} problem(s) in {time.perf_counter() - began:.1f} s")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
