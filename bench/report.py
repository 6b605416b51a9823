"""Benchmark: a monthly report over 100k records on PostgreSQL (target < 2 s).

    python3 bench/report.py [--records 100000] [--url postgresql://postgres@127.0.0.1:5432/test]

Creates a scratch database, bulk-inserts one month of records (spread over the month, every
category and stakeholder group, 30 % with receipts, some overdue, some escalated, plus records in
the neighbouring months that must not be counted), then times ``gateway.reports.build.build``
for the monthly report (collection + rendering), best and median of five runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

import gateway.store.schema  # noqa: F401 - every table
from gateway.config.settings import load_settings
from gateway.reports.build import build
from gateway.reports.periods import parse_period
from gateway.store.db import make_engine, make_sessionmaker
from gateway.store.models import Base, Message, Project, Receipt, Record, Thread
from tests.support.services import scratch_postgres

CATEGORIES = ["general", "directive", "inquiry", "report", "change_notice", "risk", "incident",
              "meeting_minutes", "work_contact", "decision"]
GROUPS = ["internal", "customer", "leadership", "procurement", "quality", "hr", "other"]
CHUNK = 10_000


def populate(url: str, n: int) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    start = datetime(2026, 10, 31, 16, tzinfo=UTC)  # 2026-11-01 00:00 Asia/Shanghai
    span = timedelta(days=30).total_seconds()
    with engine.begin() as conn:
        conn.execute(insert(Project), [{"id": 1, "code": "demo",
                                        "address": "proj-demo@gw.example.com"}])
        conn.execute(insert(Message), [{
            "id": 1, "project_id": 1, "message_id": "bench@x", "sha256": "0" * 64,
            "content_hash": "0" * 64, "size": 1, "state": "processed"}])
    total = n + n // 10  # 10 % outside the month, before and after
    for first in range(0, total, CHUNK):
        ids = range(first + 1, min(first + CHUNK, total) + 1)
        threads, records, receipts = [], [], []
        for i in ids:
            inside = i <= n
            offset = (i * 7919 % 1000) / 1000 * span
            at = (start + timedelta(seconds=offset) if inside
                  else start - timedelta(days=1 + i % 20) if i % 2 else
                  start + timedelta(days=31 + i % 20))
            category = CATEGORIES[i % len(CATEGORIES)]
            threads.append({"id": i, "project_id": 1, "subject_key": f"s{i}",
                            "created_at": at, "updated_at": at})
            records.append({"id": i, "project_id": 1, "thread_id": i,
                            "subject": f"记录 {i}", "category": category,
                            "stakeholder_group": GROUPS[i % len(GROUPS)],
                            "formality": "written", "urgency": "urgent" if i % 50 == 0
                            else "normal", "summary": "摘要", "parties": [], "reasons": [],
                            "history": [], "message_count": 1, "created_at": at,
                            "updated_at": at, "receipt_required": i % 10 < 3})
            if i % 10 < 3:
                status = ("confirmed", "pending", "read", "questioned")[i % 4]
                receipts.append({"record_id": i, "message_pk": 1, "recipient": f"u{i}@x.example",
                                 "status": status, "deadline": at + timedelta(days=1),
                                 "level": 1 if i % 40 == 0 else 0,
                                 "updated_at": at + timedelta(hours=3)})
        with engine.begin() as conn:
            conn.execute(insert(Thread), threads)
            conn.execute(insert(Record), records)
            if receipts:
                conn.execute(insert(Receipt), receipts)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    config = Path(__file__).resolve().parents[1] / "config" / "gateway.toml"
    settings = load_settings(config, {"COMMGATE_DATA_DIR": "/tmp/commgate-bench",
                                      "COMMGATE_SECRET_KEY": "bench-secret-key-0123456789"})
    project = settings.project("demo")
    with scratch_postgres("commgate_bench") as url:
        t0 = time.perf_counter()
        populate(url, args.records)
        print(f"inserted {args.records} records in the month (+10 % outside) "
              f"in {time.perf_counter() - t0:.1f} s")
        sessions = make_sessionmaker(make_engine(url))
        period = parse_period("2026-11", project.zone)
        runs = []
        for _ in range(5):
            with sessions() as session:
                t = time.perf_counter()
                data, rendered = build(session, project=project, project_id=1, kind="monthly",
                                       period=period, now=datetime(2026, 12, 3, 2, tzinfo=UTC))
                runs.append(time.perf_counter() - t)
        print(f"monthly report over {data.total} records: best {min(runs):.3f} s, "
              f"median {statistics.median(runs):.3f} s "
              f"(directives {data.directives}, HTML {len(rendered.html) // 1024} KiB)")


if __name__ == "__main__":
    main()
