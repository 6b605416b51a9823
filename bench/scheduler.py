"""Benchmark (not a test): one scheduler pass over 100k open receipts on PostgreSQL.

    python3 bench/scheduler.py [--receipts 100000] [--due 500] [--pg postgresql://postgres@127.0.0.1/test]

Creates a scratch database, fills it with open receipts (two per message) whose requests fall
due over the next weeks, ``--due`` of them already due, and measures:

* the finding query alone (``next_due_at <= now`` on the partial index, ``FOR UPDATE SKIP
  LOCKED``, one batch) — the part that must stay under a second whatever the backlog;
* a pass that finds nothing due (the common case: every 30 s in production);
* a full pass acting on the due requests (reminders rendered and queued in the outbox).

Prints the figures and the query plan; drops the database afterwards.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

import gateway.store.schema  # noqa: E402,F401 - registers every table
from gateway.app import build_app  # noqa: E402
from gateway.config.settings import load_settings  # noqa: E402
from gateway.jobs.scheduler import BATCH, _due, tick  # noqa: E402
from gateway.store.db import make_engine, unit_of_work  # noqa: E402
from gateway.store.models import Base, Message, Receipt, Record, Thread  # noqa: E402
from gateway.store.receipt_models import ReceiptRequest  # noqa: E402

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Shanghai


def fill(app: object, *, receipts: int, due: int) -> None:
    engine = app.engine  # type: ignore[attr-defined]
    project_id = app.project_ids["demo"]  # type: ignore[attr-defined]
    messages = receipts // 2
    with engine.begin() as conn:
        thread_id = conn.execute(insert(Thread).values(project_id=project_id)
                                 .returning(Thread.id)).scalar_one()
        record_id = conn.execute(insert(Record).values(
            project_id=project_id, thread_id=thread_id, subject="bench", category="directive",
            receipt_required=True).returning(Record.id)).scalar_one()
        rows = [{"project_id": project_id, "message_id": f"bench-{i}@xdyj.example.com",
                 "sha256": f"{i:064d}", "content_hash": f"{i:064d}", "size": 100,
                 "state": "processed", "subject": f"【指令】bench {i}",
                 "from_addr": "lina@xdyj.example.com", "own_text": "请回复确认。",
                 "thread_id": thread_id, "record_id": record_id} for i in range(messages)]
        first = conn.execute(insert(Message).returning(Message.id), rows[:1]).scalar_one()
        conn.execute(insert(Message), rows[1:])
        pks = range(first, first + messages)
        requests, receipt_rows = [], []
        for n, pk in enumerate(pks):
            # `due` of them are due now; the rest spread over the next three weeks
            next_due = NOW - timedelta(minutes=1) if n < due else NOW + timedelta(
                minutes=1 + (n * 37) % (21 * 24 * 60))
            deadline = next_due
            requests.append({"project_id": project_id, "message_pk": pk, "record_id": record_id,
                             "sender": "lina@xdyj.example.com", "urgency": "normal",
                             "opened_at": NOW - timedelta(days=1), "deadline": deadline,
                             "due_soon_at": deadline, "due_soon_noted": False,
                             "overdue_noted": False, "steps_done": 0, "next_due_at": next_due})
            for who in ("liuyang@xdyj.example.com", "chenjing@xdyj.example.com"):
                receipt_rows.append({"record_id": record_id, "message_pk": pk, "recipient": who,
                                     "recipient_key": who, "status": "pending",
                                     "deadline": deadline, "level": 0})
        conn.execute(insert(ReceiptRequest), requests)
        conn.execute(insert(Receipt), receipt_rows)
        conn.execute(text("ANALYZE"))


def timed(label: str, fn: object) -> float:
    start = time.perf_counter()
    result = fn()  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    print(f"{label:<58} {elapsed * 1000:8.1f} ms   ({result})")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--receipts", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=500)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    name = f"commgate_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = args.pg.rsplit("/", 1)[0] + f"/{name}"
    data = Path(tempfile.mkdtemp(prefix="commgate-bench-"))
    try:
        settings = load_settings(REPO / "config" / "gateway.toml", {
            "COMMGATE_DATABASE_URL": url, "COMMGATE_DATA_DIR": str(data),
            "COMMGATE_SECRET_KEY": "bench-secret-key-0123456789"})
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        app = build_app(settings, migrate=False, clock=lambda: NOW)
        start = time.perf_counter()
        fill(app, receipts=args.receipts, due=args.due)
        with unit_of_work(app.sessions) as s:
            open_receipts = s.scalar(select(func.count()).select_from(Receipt)
                                     .where(Receipt.status != "confirmed"))
        print(f"filled {open_receipts} open receipts ({args.receipts // 2} requests, "
              f"{args.due} due) in {time.perf_counter() - start:.1f} s")

        def find() -> int:
            with unit_of_work(app.sessions) as s:
                return len(_due(s, now=NOW, project_ids=None, limit=BATCH))

        with unit_of_work(app.sessions) as s:
            plan = s.execute(text(
                "EXPLAIN ANALYZE SELECT * FROM receipt_requests WHERE next_due_at IS NOT NULL "
                "AND next_due_at <= :now ORDER BY next_due_at, id LIMIT 200 "
                "FOR UPDATE SKIP LOCKED"), {"now": NOW}).scalars().all()
        print("\n".join("    " + line for line in plan))
        timed("find due (one batch of 200, FOR UPDATE SKIP LOCKED)", find)
        timed("find due again (warm)", find)
        timed("pass with nothing due (an hour earlier)",
              lambda: len(tick(app, now=NOW - timedelta(hours=1)).mails))
        full = timed(f"full pass acting on {args.due} due requests",
                     lambda: f"{len(tick(app, now=NOW).mails)} reminders queued")
        print(f"per due request: {full / max(args.due, 1) * 1000:.1f} ms")
        app.close()
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
