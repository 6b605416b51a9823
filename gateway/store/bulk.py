"""Multi-row INSERT … RETURNING for the intake's hot path, prepared once per table and dialect.

SQLAlchemy's Core spends more time per row (cache keys, execution contexts, bind processing
through several layers) than SQLite spends storing it; for the SMTP listener's batches that was
a third of the writer's CPU. :class:`BulkInsert` builds the SQL text once, takes each column's
Python default and bind processor from SQLAlchemy itself — so values are stored exactly as the
ORM stores them (UTC datetimes, JSON) — and runs the statement through
``Connection.exec_driver_sql``, inside the caller's transaction and visible to engine events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Connection, Table
from sqlalchemy.engine import Dialect

_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s", "numeric": None, "named": None}


def placeholder(dialect: Dialect) -> str:
    """The DB-API parameter marker of ``dialect`` (``?`` or ``%s``)."""
    mark = _PLACEHOLDER.get(dialect.paramstyle)
    if mark is None:
        raise ValueError(f"unsupported DB-API paramstyle {dialect.paramstyle!r}")
    return mark


class BulkInsert:
    """``INSERT INTO table (every column but the generated key) VALUES (…), (…) [RETURNING …]``."""

    def __init__(self, table: Table, dialect: Dialect, returning: Sequence[str] = ()) -> None:
        mark = placeholder(dialect)
        quote = dialect.identifier_preparer.quote
        self.columns: list[Column[Any]] = [
            col for col in table.columns
            if not (col.primary_key and col.autoincrement in (True, "auto"))]
        self._defaults: list[Callable[[], Any] | None] = [_default(col) for col in self.columns]
        self._processors = [col.type.dialect_impl(dialect).bind_processor(dialect)
                            for col in self.columns]
        # A default that is the same every time (a constant, [] or {}) is processed once; a time
        # (utcnow) is taken per row.
        self._fixed: dict[str, Any] = {}
        for col, default, process in zip(self.columns, self._defaults, self._processors,
                                         strict=True):
            sample = default() if default is not None else None
            if not isinstance(sample, (datetime, date)):
                self._fixed[col.name] = process(sample) if process is not None else sample
        self._head = (f"INSERT INTO {quote(table.name)} "
                      f"({', '.join(quote(col.name) for col in self.columns)}) VALUES ")
        self._row = "(" + ", ".join([mark] * len(self.columns)) + ")"
        self._tail = (f" RETURNING {', '.join(quote(name) for name in returning)}"
                      if returning else "")

    def values(self, row: Mapping[str, Any]) -> list[Any]:
        """The row's values in column order: given, else the column's default, then processed."""
        out: list[Any] = []
        fixed = self._fixed
        for col, default, process in zip(self.columns, self._defaults, self._processors,
                                         strict=True):
            name = col.name
            if name in row:
                value = row[name]
            elif name in fixed:
                out.append(fixed[name])
                continue
            else:
                value = default() if default is not None else None
            out.append(process(value) if process is not None else value)
        return out

    def execute(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        """Insert ``rows`` with one statement; the RETURNING rows, in no promised order."""
        if not rows:
            return []
        params = [value for row in rows for value in self.values(row)]
        sql = self._head + ", ".join([self._row] * len(rows)) + self._tail
        result = conn.exec_driver_sql(sql, tuple(params))
        return list(result.fetchall()) if self._tail else []


def _default(col: Column[Any]) -> Callable[[], Any] | None:
    default = col.default
    if default is None:
        return None
    if getattr(default, "is_callable", False):
        wrapped = default.arg  # type: ignore[attr-defined]  # SQLAlchemy wraps fn() as fn(ctx)
        return lambda: wrapped(None)
    if getattr(default, "is_scalar", False):
        value = default.arg  # type: ignore[attr-defined]
        return lambda: value
    return None  # a SQL expression or sequence: left to the database
