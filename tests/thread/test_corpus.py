"""Real Chinese list mail (shared/corpora): our threads against the archives' own headers.

Truth is the connected components over Message-ID / In-Reply-To / References. The gateway must
never split a component, and may join two only through recorded non-header evidence (a
reply-prefixed subject without References, or an Outlook Thread-Index).
"""

from __future__ import annotations

from collections import Counter
from itertools import islice

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.store.db import unit_of_work
from gateway.store.models import ThreadRef
from gateway.thread.assign import assign_thread
from gateway.thread.evidence import Threader
from tests.thread.corpus import ARCHIVES, CorpusMessage, header_truth, load, partition
from tests.thread.mail import T0


def thread_in_memory(mail: tuple[CorpusMessage, ...]) -> tuple[Threader, Counter[str], set[str]]:
    threader, vias, soft = Threader(), Counter[str](), set()
    for m in mail:
        got = threader.add(m.evidence, now=m.evidence.date or T0)
        vias[got.via] += 1
        if got.via in ("subject", "thread-index"):
            soft.add(m.evidence.message_id)
    return threader, vias, soft


@pytest.mark.parametrize("archive", ARCHIVES)
def test_threads_follow_the_headers(archive: str) -> None:
    mail = load(archive)
    truth = header_truth(mail)
    threader, vias, soft = thread_in_memory(mail)
    ours = partition(threader.groups().values())
    where = {mid: i for i, group in enumerate(ours) for mid in group}
    # Never split what the headers join
    for component in truth:
        assert len({where[mid] for mid in component}) == 1, sorted(component)[:3]
    # Every extra join is explained by one soft-evidence message
    for group in ours:
        parts = [c for c in truth if c <= group]
        assert len(parts) - 1 <= len(group & soft), sorted(group)[:3]
    assert len(truth) - len(ours) <= len(soft)
    assert vias["references"] + vias["new"] + len(soft) == len(mail)


def test_header_truth_matches_the_archive_index() -> None:
    mail = load("linux-erofs-archive")  # the f2fs index has no "component" column
    by_index: dict[int, set[str]] = {}
    for m in mail:
        if m.component is not None:  # None: the bounces and auto-replies outside any thread
            by_index.setdefault(m.component, set()).add(m.evidence.message_id)
    threaded = [m for m in mail if m.component is not None]
    assert header_truth(threaded) == partition(by_index.values())


@pytest.mark.parametrize("archive", ARCHIVES)
def test_sql_adapter_threads_the_archive_like_the_memory_threader(
        archive: str, db: tuple[sessionmaker[Session], int]) -> None:
    factory, project = db
    mail = load(archive)
    batches = iter(mail)
    while batch := list(islice(batches, 100)):  # a poll batch: one transaction
        with unit_of_work(factory) as session:
            for m in batch:
                assign_thread(session, project_id=project, evidence=m.evidence,
                              now=m.evidence.date or T0)
    with unit_of_work(factory) as session:
        rows = session.execute(select(ThreadRef.thread_id, ThreadRef.message_id).where(
            ThreadRef.project_id == project, ThreadRef.seen.is_(True))).all()
    sql: dict[int, set[str]] = {}
    for row in rows:
        sql.setdefault(row.thread_id, set()).add(row.message_id)
    assert partition(sql.values()) == partition(thread_in_memory(mail)[0].groups().values())
