"""Alembic environment: runs against the engine the gateway hands over (or sqlalchemy.url)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from gateway.store.db import make_engine
from gateway.store.schema import metadata

config = context.config


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Leave alone what raw DDL creates: the FTS5 tables and the trigram index for search."""
    if type_ == "table" and name and name.startswith("record_search_fts"):
        return False
    return not (type_ == "index" and name == "ix_record_search_document_trgm")

engine: Engine | None = config.attributes.get("engine")
if engine is None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///var/commgate.db")


def run(connection: Connection) -> None:
    with connection.begin():
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=include_name,
        )
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left dangling foreign keys: {broken[:5]}")


with engine.connect() as connection:
    if connection.dialect.name != "sqlite":
        run(connection)
    else:
        # SQLite rebuilds a table to change it (batch mode): with foreign keys on, dropping the
        # old copy would cascade into, or be refused by, the tables pointing at it. The pragma
        # only takes effect outside a transaction; foreign_key_check above proves the result.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        try:
            run(connection)
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
