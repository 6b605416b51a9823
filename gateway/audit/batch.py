"""The audit chain appended in batches: many events per project under one head lock, as plain
SQL on a Core connection (gateway/audit/chain.py appends one event through the ORM).

The intake's writer appends ``message.arrived`` for every message of a commit
(:func:`append_arrivals`: per project one head lock, one multi-row INSERT, one head UPDATE), and
``commgate audit adopt`` appends its adopted rows the same way. The hashes are
those of :mod:`gateway.audit.chain`, so :func:`~gateway.audit.chain.verify_chain` reads both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

from gateway.audit.chain import GENESIS, content_hash, entry_hash, jsonable
from gateway.audit.state import State
from gateway.store.audit_models import AuditEvent, AuditHead
from gateway.store.bulk import BulkInsert, placeholder

_EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]
_inserts: dict[str, BulkInsert] = {}


def _bulk_events(dialect: Dialect) -> BulkInsert:
    made = _inserts.get(dialect.name)
    if made is None:
        made = _inserts[dialect.name] = BulkInsert(_EVENTS, dialect)
    return made


def _bind_time(dialect: Dialect, value: datetime) -> Any:
    process = AuditHead.__table__.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process is not None else value


def append_arrivals(conn: Connection, arrivals: list[tuple[int, int, State, dict[str, Any]]],
                    *, now: datetime, actor: str = "system:intake") -> None:
    """``message.arrived`` for each newly stored message, in the intake's transaction.

    ``arrivals``: (project_id, message pk, message state, detail). Per project one head lock,
    one multi-row INSERT and one head UPDATE, as plain SQL: this is on the SMTP hot path.
    """
    append_states(conn, [(project_id, "message.arrived", ("message", pk), state, detail)
                         for project_id, pk, state, detail in sorted(arrivals,
                                                                     key=lambda a: a[1])],
                  now=now, actor=actor)


def append_states(conn: Connection,
                  events: list[tuple[int, str, tuple[str, int | str], State | None,
                                     dict[str, Any]]],
                  *, now: datetime, actor: str) -> None:
    """The batch form of :func:`record` (no ``before``), on a Core connection, in its transaction.

    ``events``: (project_id, kind, (subject type, id), state after, detail), appended per
    project in the order given.
    """
    if not events:
        return
    mark = placeholder(conn.dialect)
    dialect = conn.dialect.name
    at = now.astimezone(UTC).isoformat(timespec="microseconds")
    by_project: dict[int, list[tuple[str, tuple[str, int | str], State | None,
                                     dict[str, Any]]]] = {}
    for project_id, kind, subject, state, detail in events:
        by_project.setdefault(project_id, []).append((kind, subject, state, detail))
    when = _bind_time(conn.dialect, now)
    lock = " FOR UPDATE" if dialect == "postgresql" else ""
    rows: list[dict[str, Any]] = []
    for project_id in sorted(by_project):  # heads locked in one order by everyone
        conn.exec_driver_sql(
            f"INSERT INTO audit_heads (project_id, seq, hash, updated_at) VALUES "
            f"({mark}, 0, {mark}, {mark}) ON CONFLICT (project_id) DO NOTHING",
            (project_id, GENESIS, when))
        seq, prev = conn.exec_driver_sql(
            f"SELECT seq, hash FROM audit_heads WHERE project_id = {mark}{lock}",
            (project_id,)).one()
        for kind, (subject_type, subject_id), state, detail in by_project[project_id]:
            seq += 1
            entry: dict[str, Any] = {
                "project_id": project_id, "seq": seq, "at": at, "actor": actor[:320],
                "action": kind[:64], "subject_type": subject_type[:32],
                "subject_id": str(subject_id)[:128], "before": None,
                "after": jsonable({**detail, "state": state}), "prev_hash": prev}
            entry["content_hash"] = content_hash(entry)
            prev = entry_hash(entry)
            rows.append({**entry, "at": now})
        conn.exec_driver_sql(
            f"UPDATE audit_heads SET seq = {mark}, hash = {mark}, updated_at = {mark} "
            f"WHERE project_id = {mark}", (seq, prev, when, project_id))
    for i in range(0, len(rows), 500):  # below every backend's bound-parameter limit
        _bulk_events(conn.dialect).execute(conn, rows[i:i + 500])
