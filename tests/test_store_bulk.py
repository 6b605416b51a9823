"""The intake's multi-row INSERT stores rows exactly as the ORM does, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select

from gateway.app import App
from gateway.store.bulk import BulkInsert
from gateway.store.db import unit_of_work
from gateway.store.models import Arrival, Message

WHEN = datetime(2026, 10, 8, 9, 30, 15, 123456, tzinfo=UTC)


def _row(n: int, project_id: int) -> dict[str, Any]:
    return {"project_id": project_id, "message_id": f"bulk-{n}@xdyj.example.com",
            "message_id_synthetic": n % 2 == 0, "sha256": f"{n:064x}",
            "content_hash": f"{n + 1:064x}", "size": 1000 + n, "history": False,
            "received_at": WHEN, "enqueued_at": None}


def _columns(message: Message) -> dict[str, Any]:
    return {c.name: getattr(message, c.key) for c in Message.__table__.columns
            if c.name != "id"}


def test_bulk_rows_read_back_like_orm_rows(gateway_app: App) -> None:
    app = gateway_app
    project_id = app.project_ids["demo"]
    table: Table = Message.__table__  # type: ignore[assignment]
    bulk = BulkInsert(table, app.engine.dialect, returning=("id", "message_id"))
    with app.engine.begin() as conn:
        returned = bulk.execute(conn, [_row(1, project_id), _row(2, project_id)])
    assert sorted(message_id for _, message_id in returned) == [
        "bulk-1@xdyj.example.com", "bulk-2@xdyj.example.com"]
    with unit_of_work(app.sessions) as session:
        session.add(Message(**_row(3, project_id)))
    with unit_of_work(app.sessions) as session:
        rows = {m.message_id: _columns(m) for m in session.scalars(select(Message))}
    by_bulk, by_orm = rows["bulk-1@xdyj.example.com"], rows["bulk-3@xdyj.example.com"]
    for differs in ("message_id", "message_id_synthetic", "sha256", "content_hash", "size"):
        by_bulk.pop(differs), by_orm.pop(differs)
    assert by_bulk == by_orm  # defaults (state, JSON lists and dicts, NULLs) and the UTC time
    assert by_bulk["received_at"] == WHEN and by_bulk["to_addrs"] == []
    assert by_bulk["flags"] == {} and by_bulk["state"] == "received"


def test_bulk_insert_without_returning_and_with_json(gateway_app: App) -> None:
    app = gateway_app
    with unit_of_work(app.sessions) as session:
        message = Message(**_row(7, app.project_ids["demo"]))
        session.add(message)
        session.flush()
        pk = message.id
    table: Table = Arrival.__table__  # type: ignore[assignment]
    bulk = BulkInsert(table, app.engine.dialect)
    arrivals = [{"message_pk": pk, "channel": "smtp", "peer": "[127.0.0.1]:2525",
                 "envelope_from": "lina@xdyj.example.com",
                 "envelope_to": ["proj-demo@gw.example.com", "引号\"@例子"],
                 "received_at": WHEN},
                {"message_pk": pk, "channel": "imap", "received_at": WHEN}]
    with app.engine.begin() as conn:
        assert bulk.execute(conn, arrivals) == []
        assert bulk.execute(conn, []) == []
    with unit_of_work(app.sessions) as session:
        stored = sorted(session.scalars(select(Arrival)), key=lambda a: a.channel)
    assert [(a.channel, a.envelope_to, a.peer, a.received_at) for a in stored] == [
        ("imap", [], "", WHEN),
        ("smtp", ["proj-demo@gw.example.com", "引号\"@例子"], "[127.0.0.1]:2525", WHEN)]
