"""Alembic environment: runs against the engine the gateway hands over (or sqlalchemy.url)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

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

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    context.run_migrations()
