"""The Alembic migrations create exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.app import App
from gateway.store.schema import metadata


def test_migrations_match_the_models(gateway_app: App) -> None:
    # gateway_app has run `alembic upgrade head` on a fresh SQLite or PostgreSQL database
    with gateway_app.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    ignorable = {"search"}  # search virtual tables / trigram indexes are created by raw DDL
    real = [d for d in diff if not any(word in repr(d) for word in ignorable)]
    assert real == [], "models changed without a migration: run the autogenerate step in docs"
