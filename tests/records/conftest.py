"""Records tests: a gateway on SQLite or PostgreSQL with the search tables, and mail delivered
through intake and the pipeline exactly as the SMTP listener would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

import gateway.store.schema  # noqa: F401 - registers every table, the search tables too
from gateway.app import App, build_app
from gateway.config.settings import Settings
from gateway.inbound.intake import accept
from gateway.pipeline import process
from gateway.store.db import make_engine, upgrade
from tests.support.apps import cli_for
from tests.support.mail import make_mail

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai, a Tuesday


def app_with_schema(settings: Settings, *, without: tuple[str, ...] = ()) -> App:
    """A gateway on a database built by the migrations (the search tables with their FTS5 /
    pg_trgm indexes included), less the tables in ``without`` (to test a database that lacks
    them). A fixed clock."""
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with engine.begin() as conn:
        for table in without:
            conn.execute(text(f"DROP TABLE {table}"))
    engine.dispose()
    return build_app(settings, migrate=False, clock=lambda: T0 + timedelta(hours=1))


@pytest.fixture
def records_app(make_settings: Callable[..., Settings], database_url: str) -> Iterator[App]:
    app = app_with_schema(make_settings(database_url=database_url))
    yield app
    app.close()


Deliver = Callable[..., str]


@pytest.fixture
def deliver(records_app: App) -> Deliver:
    """Store a message as intake does, run the pipeline on it; return its Message-ID."""

    def send(msg: EmailMessage | None = None, **fields: Any) -> str:
        msg = msg if msg is not None else make_mail(**fields)
        accepted = accept(records_app, project="demo", raw=bytes(msg), channel="smtp",
                          will_enqueue=False)
        assert process(records_app, accepted.message_pk) == "processed"
        return str(msg["Message-ID"])

    return send


def with_attachment(msg: EmailMessage, filename: str, data: bytes = b"xlsx bytes",
                    ctype: str = "application/octet-stream") -> EmailMessage:
    maintype, subtype = ctype.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


@pytest.fixture
def cli(records_app: App, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``commgate …`` in-process, on the test's database and data folder."""
    yield cli_for(records_app)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    path = tmp_path / "out"
    path.mkdir()
    return path
