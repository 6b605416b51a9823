"""The Alembic migrations create exactly the schema the models describe, on both databases, and
upgrade a database the gateway has used without losing a row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from gateway.app import App
from gateway.config.settings import Settings
from gateway.store.db import upgrade
from gateway.store.schema import metadata


def test_migrations_match_the_models(gateway_app: App) -> None:
    # gateway_app has run `alembic upgrade head` on a fresh SQLite or PostgreSQL database
    with gateway_app.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    ignorable = {"search"}  # search virtual tables / trigram indexes are created by raw DDL
    real = [d for d in diff if not any(word in repr(d) for word in ignorable)]
    assert real == [], "models changed without a migration: run the autogenerate step in docs"


def test_upgrading_a_populated_0002_database_keeps_every_row(
        make_settings: Callable[..., Settings], database_url: str, tmp_path: Path) -> None:
    # Given a database at 0002 that the gateway has used: records, receipts, notices, search
    # (the live models are newer than 0002, so the rows are written at the head, then the
    # schema is taken down to 0002 with them in it)
    from alembic import command

    from gateway.app import build_app
    from gateway.store.db import alembic_config
    from tests.records.story import check_whole, notice, records, reply

    app = build_app(make_settings(database_url=database_url), clock=lambda: T0)
    try:
        a, b = notice(app, title="割接方案"), notice(app, title="割接窗口")
        reply(app, to=[a], body="收到，确认。\n")
        command.downgrade(alembic_config(app.engine), "0002")
        with app.engine.connect() as conn:
            before = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                      for t in COUNTED}
        # When the gateway upgrades it
        upgrade(app.engine)
        # Then every row is still there, the constraints hold, and correcting records works
        with app.engine.connect() as conn:
            after = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                     for t in COUNTED}
            head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        assert after == before and before["receipts"] > 0 and before["outbox"] > 0
        assert head == "0005_i16a"
        reply(app, to=[a, b], body="两项均确认。\n", sender="huang@client.example.cn")
        assert len(records(app)) == 1
        check_whole(app, tmp_path / "archives")
        # a state the schema does not know is refused
        with app.engine.connect() as conn, pytest.raises(IntegrityError):
            conn.execute(text("UPDATE messages SET state = 'lost'"))
    finally:
        app.close()


COUNTED = ("messages", "arrivals", "threads", "thread_refs", "records", "receipts",
           "receipt_requests", "receipt_events", "outbox", "outbox_recipients", "audit_events",
           "record_search", "connector_deliveries")
T0 = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def test_downgrade_to_0002_and_back(gateway_app: App) -> None:
    from alembic import command

    from gateway.store.db import alembic_config

    command.downgrade(alembic_config(gateway_app.engine), "0002")
    upgrade(gateway_app.engine)
    test_migrations_match_the_models(gateway_app)


def test_downgrade_to_nothing_and_back(gateway_app: App) -> None:
    # Given a database at the head; when every revision is undone, nothing of the gateway's is
    # left (0001 is undone table by table)
    from alembic import command
    from sqlalchemy import inspect

    from gateway.store.db import alembic_config

    command.downgrade(alembic_config(gateway_app.engine), "base")
    with gateway_app.engine.connect() as conn:
        left = set(inspect(conn).get_table_names()) - {"alembic_version"}
    assert left == set()
    # and upgrading again gives exactly the models' schema
    upgrade(gateway_app.engine)
    test_migrations_match_the_models(gateway_app)
