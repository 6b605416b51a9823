"""Benchmark of the threading stage: messages per second and peak memory, 100k messages.

The corpus is generated from the shapes of the real Linux list archives in ``shared/corpora``
(thread sizes, how deep replies nest, how many References a message carries), plus the
Chinese-client habits threading must absorb: QQ Mail replies with no References, Outlook
Thread-Index. Without the corpora a built-in shape of the same kind is used.

    python3 bench/threading.py                       # memory + SQLite, 100k messages
    python3 bench/threading.py --backends memory sqlite postgresql --count 100000 --batch 100

PostgreSQL uses a scratch database on ``COMMGATE_TEST_PG`` (default the local ``test`` one),
dropped afterwards. SQL runs commit once per ``--batch`` messages (one poll batch). Memory: the
in-memory threader's peak as traced by tracemalloc (a second, traced pass); for SQL, the
process's peak RSS (which includes the 100k evidence objects held by the benchmark).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.thread.evidence import Threader, ThreadEvidence, evidence

CORPORA = Path(os.environ.get("COMMGATE_CORPORA",
                              Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora"))
ARCHIVES = ("linux-erofs-archive", "linux-f2fs-devel-archive")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
Shape = tuple[list[int], list[int]]  # thread sizes, References counts


def corpus_shape() -> Shape:
    """Thread sizes and References counts of the real archives (or a similar built-in one)."""
    rows = []
    for archive in ARCHIVES:
        index = CORPORA / archive / "index.jsonl"
        if index.exists():
            rows += [json.loads(line) for line in index.read_text().splitlines()]
    if not rows:
        return [1] * 40 + [2] * 25 + [3] * 12 + [5] * 10 + [10] * 8 + [30] * 4 + [120], \
            [0] * 30 + [1] * 30 + [2] * 20 + [4] * 12 + [8] * 6 + [20] * 2
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x] = parent[parent[x]]
        return x

    for row in rows:
        for ref in [row["in_reply_to"], *row["references"]]:
            if ref:
                parent[find(ref)] = find(row["message_id"])
    sizes: dict[str, int] = {}
    for row in rows:
        root = find(row["message_id"])
        sizes[root] = sizes.get(root, 0) + 1
    return list(sizes.values()), [len(row["references"]) for row in rows]


def generate(count: int, shape: Shape, seed: int = 5256) -> list[dict[str, Any]]:
    """``count`` messages (as parsed headers) in threads drawn from ``shape``, interleaved."""
    rng = random.Random(seed)
    sizes, depths = shape
    threads: list[list[tuple[str, list[str]]]] = []
    total = 0
    while total < count:
        size = min(rng.choice(sizes), count - total)
        outlook = base64.b64encode(rng.randbytes(22)).decode() if rng.random() < 0.1 else None
        thread: list[tuple[str, list[str]]] = []
        for k in range(size):
            name = f"<{len(threads)}.{k}.{rng.getrandbits(32):x}@bench.example>"
            if k == 0:
                thread.append((name, []))
                continue
            want = rng.choice(depths) or 1  # nest as deep as real replies do
            pick = min(range(k), key=lambda i: abs(len(thread[i][1]) + 1 - want))
            parent, refs = thread[rng.choice([pick, k - 1])]
            thread.append((name, [*refs, parent]))
        threads.append([(f"{n}|{outlook or ''}", r) for n, r in thread])
        total += size
    mail: list[dict[str, Any]] = []
    cursors = [0] * len(threads)
    live = list(range(len(threads)))
    clock = T0
    while live:
        slot = rng.randrange(len(live))
        t = live[slot]
        name, refs = threads[t][cursors[t]]
        mid, outlook = name.split("|")
        cursors[t] += 1
        if cursors[t] == len(threads[t]):
            live[slot] = live[-1]
            live.pop()
        clock += timedelta(seconds=rng.randrange(1, 60))
        qq = bool(refs) and rng.random() < 0.05  # QQ Mail: no In-Reply-To/References at all
        index = None
        if outlook:
            index = base64.b64encode(base64.b64decode(outlook) + bytes(5 * len(refs))).decode()
        mail.append({
            "message_id": mid, "in_reply_to": [] if qq or not refs else [refs[-1]],
            "references": [] if qq else refs, "subject": ("回复：" if refs else "") + f"topic {t}",
            "date": clock, "thread_index": index, "thread_topic": None, "project_code": "demo"})
    return mail


def bench_memory(mail: list[ThreadEvidence]) -> dict[str, float]:
    threader = Threader()
    started = time.perf_counter()
    for ev in mail:
        threader.add(ev, now=ev.date or T0)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    traced = Threader()
    for ev in mail:
        traced.add(ev, now=ev.date or T0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"seconds": elapsed, "threads": len(threader.groups()), "peak_mb": peak / 2**20}


def bench_sql(url: str, mail: list[ThreadEvidence], batch: int,
              subject_index: bool) -> dict[str, float]:
    from sqlalchemy import func, select

    from gateway.store.db import make_engine, make_sessionmaker, unit_of_work
    from gateway.store.models import Base, Project, Thread
    from gateway.thread.assign import assign_thread

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    if subject_index:  # the index docs/threading.md asks for; not in the model yet
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_threads_subject "
                                 "ON threads (project_id, subject_key, updated_at)")
    factory = make_sessionmaker(engine)
    with unit_of_work(factory) as session:
        project = Project(code=f"bench{uuid.uuid4().hex[:8]}", address="bench@gw.example.com")
        session.add(project)
        session.flush()
        project_id = project.id
    started = time.perf_counter()
    stream = iter(mail)
    while chunk := list(islice(stream, batch)):
        with unit_of_work(factory) as session:
            for ev in chunk:
                assign_thread(session, project_id=project_id, evidence=ev, now=ev.date or T0)
    elapsed = time.perf_counter() - started
    with unit_of_work(factory) as session:
        live = session.scalar(select(func.count()).select_from(Thread).where(
            Thread.project_id == project_id, Thread.merged_into.is_(None)))
    engine.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"seconds": elapsed, "threads": float(live or 0), "peak_mb": rss / 1024}


def with_postgres(run: Callable[[str], dict[str, float]]) -> dict[str, float]:
    import psycopg

    admin = os.environ.get("COMMGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    name = f"commgate_bench_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        return run(admin.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100, help="messages per SQL transaction")
    parser.add_argument("--no-subject-index", action="store_true",
                        help="run SQL without the requested threads(project_id, subject_key) index")
    parser.add_argument("--backends", nargs="+", default=["memory", "sqlite"],
                        choices=["memory", "sqlite", "postgresql"])
    args = parser.parse_args(argv)
    index = not args.no_subject_index
    shape = corpus_shape()
    headers = generate(args.count, shape)
    started = time.perf_counter()
    mail = [evidence(**fields) for fields in headers]
    built = time.perf_counter() - started
    refs = sum(len(ev.references) for ev in mail) / len(mail)
    print(f"{len(mail):,} messages shaped like {sum(shape[0]):,} real ones in {len(shape[0]):,} "
          f"threads, {refs:.1f} References each on average")
    print(f"  evidence: {built:7.2f}s  {len(mail) / built:>9,.0f} msg/s  (headers → evidence)")
    for backend in args.backends:
        if backend == "memory":
            result = bench_memory(mail)
        elif backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                result = bench_sql(f"sqlite:///{tmp}/bench.db", mail, args.batch, index)
        else:
            result = with_postgres(lambda url: bench_sql(url, mail, args.batch, index))
        memory = "traced peak" if backend == "memory" else "process RSS"
        print(f"{backend:>10}: {result['seconds']:7.2f}s  {len(mail) / result['seconds']:>9,.0f}"
              f" msg/s  {result['threads']:>7,.0f} threads  {memory} "
              f"{result['peak_mb']:6.1f} MB")


if __name__ == "__main__":
    main()
