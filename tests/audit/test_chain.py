"""The audit trail: appended in the caller's transaction, hash-chained, and any edit, deletion
or raw-file tampering is named by ``audit verify`` (event id/seq, message id)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import delete, select, update

from gateway.app import App
from gateway.audit.chain import GENESIS, record_event, verify_chain
from gateway.audit.verify import verify_project
from gateway.config.settings import Settings
from gateway.store.audit_models import AuditEvent
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from gateway.testing.clock import FakeClock
from tests.audit.helpers import build, change_notice, deliver
from tests.support.raw import drop_raw, overwrite_raw


def append(app: App, n: int, *, action: str = "record.updated") -> None:
    with unit_of_work(app.sessions) as session:
        for i in range(n):
            record_event(session, project_id=app.project_ids["demo"], actor="system:test",
                         action=action, subject_type="record", subject_id=i,
                         before={"category": "general"},
                         after={"category": "decision", "当事人": "黄经理", "n": i},
                         now=app.clock())


def events(app: App) -> list[AuditEvent]:
    with unit_of_work(app.sessions) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_events_form_an_unbroken_chain_that_verifies(app: App, clock: FakeClock) -> None:
    # Given three events appended in two transactions
    append(app, 2)
    clock.advance(minutes=5)
    append(app, 1)
    rows = events(app)
    # Then they are numbered 1..3, the first points at the genesis hash, each at the previous
    assert [e.seq for e in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS
    assert len({e.prev_hash for e in rows}) == 3
    report = verify_project(app, "demo")
    assert report.ok, report.lines()
    assert report.events == 3


def test_an_edited_event_is_named_by_id_and_seq(app: App) -> None:
    append(app, 3)
    target = events(app)[1]
    # When someone edits history directly in the database
    with unit_of_work(app.sessions) as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == target.id)
                        .values(after={"category": "general"}))
    report = verify_project(app, "demo")
    # Then verify names that very entry
    assert not report.ok
    assert report.chain[0].seq == 2 and report.chain[0].event_id == target.id
    assert "content changed" in report.chain[0].problem
    assert any(f"event id {target.id}" in line for line in report.lines())


def test_a_deleted_event_in_the_middle_or_at_the_end_is_detected(app: App) -> None:
    append(app, 4)
    rows = events(app)
    with unit_of_work(app.sessions) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id == rows[1].id))
    breaks = verify_project(app, "demo").chain
    assert breaks and breaks[0].seq == 3 and breaks[0].event_id == rows[2].id
    assert "expected seq 2" in breaks[0].problem
    # And dropping the last entries is caught by the chain head
    with unit_of_work(app.sessions) as session:
        session.execute(delete(AuditEvent).where(AuditEvent.seq >= 3))
    breaks = verify_project(app, "demo").chain
    assert any("head says 4" in b.problem for b in breaks)


def test_a_tampered_or_missing_raw_message_is_named(app: App) -> None:
    # Given two messages stored through the pipeline
    first = deliver(app, change_notice())
    second = deliver(app, change_notice("【变更通知】巡检窗口调整"))
    with unit_of_work(app.sessions) as session:
        one, two = (session.get_one(Message, pk) for pk in (first, second))
        sha1, sha2, mid1 = one.sha256, two.sha256, one.message_id
    # When one raw message is altered in the store and the other removed
    overwrite_raw(app, sha1, b"X-Tampered: yes\r\n" + app.raw.get(sha1))
    drop_raw(app, sha2)
    report = verify_project(app, "demo")
    # Then both are named by message id
    assert not report.ok and report.chain == []
    assert any(f"message id {first} <{mid1}>: raw message altered" in line for line in report.raw)
    assert any(f"message id {second} " in line and "missing" in line for line in report.raw)


def test_verify_chain_is_pure_and_checks_the_head() -> None:
    assert list(verify_chain([], head_seq=0, head_hash=GENESIS)) == []
    assert "head says 2" in next(iter(verify_chain([], head_seq=2))).problem


@pytest.mark.postgres
def test_concurrent_appenders_never_fork_the_chain_on_postgresql(
        make_settings: Callable[..., Settings], pg_url: str) -> None:
    # Given eight workers appending to one project's chain at once, on PostgreSQL
    app = build(make_settings, pg_url, FakeClock())
    try:
        start = threading.Barrier(8)
        failures: list[BaseException] = []

        def worker() -> None:
            try:
                start.wait()
                for _ in range(10):
                    append(app, 1, action="receipt.confirmed")
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                failures.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # Then every append succeeded, seqs are 1..80 without gaps, and the chain verifies
        assert failures == []
        assert [e.seq for e in events(app)] == list(range(1, 81))
        assert verify_project(app, "demo").ok
    finally:
        with unit_of_work(app.sessions) as session:
            for table in ("audit_events", "audit_heads"):
                session.execute(delete(AuditEvent.metadata.tables[table]))
        app.close()
