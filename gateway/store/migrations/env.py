"""Alembic environment: runs against the engine the gateway hands over (or sqlalchemy.url)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from gateway.store.db import make_engine
from gateway.store.schema import metadata

config = context.config
engine: Engine | None = config.attributes.get("engine")
if engine is None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///var/commgate.db")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
