"""Small messages keep their raw bytes in the database, committed with their row.

``raw_inline_max`` (default 64 KiB): up to that size a message's bytes go into ``raw_blobs`` in
the same transaction as its ``messages`` row — no file, no second flush, and no way for the row
to be committed without its bytes or the bytes without the row. Larger messages are files.
Readers (``RawStore.get``) find either. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select, text, update

from gateway.app import App
from gateway.errors import StoreError
from gateway.inbound.intake import Accepted, accept, prepare, record
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Project, RawBlob
from tests.support.mail import make_mail

LIMIT = 2048


@pytest.fixture
def app(make_app: Callable[..., App], database_url: str) -> App:
    return make_app(database_url=database_url, COMMGATE_RAW_INLINE_MAX=str(LIMIT))


def sized(n: int, size: int) -> bytes:
    head = (f"From: lina@xdyj.example.com\r\nSubject: inline {n}\r\n"
            f"Message-ID: <inline-{n}@xdyj.example.com>\r\n\r\n").encode()
    return head + b"x" * (size - len(head) - 2) + b"\r\n"


def files(app: App) -> list[Path]:
    return [p for p in app.raw.root.rglob("*") if p.is_file()] if app.raw.root.exists() else []


def blobs(app: App) -> int:
    with unit_of_work(app.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(RawBlob)) or 0)


def test_a_small_message_is_stored_in_the_database_not_as_a_file(app: App) -> None:
    raw = sized(1, LIMIT)  # exactly the limit: inline
    stored = accept(app, project="demo", raw=raw, channel="smtp")
    assert files(app) == []
    with unit_of_work(app.sessions) as session:
        message = session.get_one(Message, stored.message_pk)
        blob = session.get_one(RawBlob, message.sha256)
        assert bytes(blob.data) == raw and message.sha256 == hashlib.sha256(raw).hexdigest()
    assert app.raw.get(message.sha256) == raw
    assert app.raw.verify(message.sha256) and app.raw.exists(message.sha256)


def test_a_message_over_the_limit_is_a_file(app: App) -> None:
    raw = sized(2, LIMIT + 1)
    stored = accept(app, project="demo", raw=raw, channel="smtp")
    with unit_of_work(app.sessions) as session:
        sha = session.get_one(Message, stored.message_pk).sha256
    assert files(app) == [app.raw.path(sha)] and blobs(app) == 0
    assert app.raw.get(sha) == raw and app.raw.verify(sha)


def test_raw_inline_max_zero_makes_every_message_a_file(make_app: Callable[..., App],
                                                        database_url: str) -> None:
    app = make_app(database_url=database_url, COMMGATE_RAW_INLINE_MAX="0")
    accept(app, project="demo", raw=sized(3, 300), channel="smtp")
    assert len(files(app)) == 1 and blobs(app) == 0


def test_bytes_and_row_are_one_commit_a_failed_batch_leaves_neither(app: App) -> None:
    # Given a batch whose last statement (the arrivals) fails
    items = [prepare(app, project="demo", raw=sized(n, 500), channel="smtp") for n in range(3)]
    assert all(item.inline is not None and item.durable for item in items)

    def fail(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ARRIVALS"):
            raise RuntimeError("disk gone")

    event.listen(app.engine, "before_cursor_execute", fail)
    try:
        with pytest.raises(StoreError):
            record(app, items)
    finally:
        event.remove(app.engine, "before_cursor_execute", fail)
    # Then nothing of it is stored: no message row, no bytes, no file
    assert blobs(app) == 0 and files(app) == []
    with unit_of_work(app.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0
    # And the retry (the client's, after its 451) stores all three
    assert all(isinstance(o, Accepted) for o in record(app, items)) and blobs(app) == 3


def test_a_further_arrival_and_a_closed_project_store_no_bytes(app: App) -> None:
    first = accept(app, project="demo", raw=b"Received: by a\r\n" + sized(4, 400),
                   channel="smtp")
    # The same mail by another way: other trace headers, other SHA-256, same message
    again = accept(app, project="demo", raw=b"Received: by b\r\n" + sized(4, 400),
                   channel="imap")
    assert again.duplicate and again.message_pk == first.message_pk and blobs(app) == 1
    with unit_of_work(app.sessions) as session:
        session.execute(update(Project).where(Project.code == "ops").values(intake_open=False))
    [closed] = record(app, [prepare(app, project="ops", raw=sized(5, 400), channel="smtp")])
    assert not isinstance(closed, Accepted) and blobs(app) == 1


def test_the_same_bytes_for_two_projects_are_kept_once(app: App) -> None:
    raw = sized(6, 400)
    one = accept(app, project="demo", raw=raw, channel="smtp")
    two = accept(app, project="ops", raw=raw, channel="smtp")
    assert one.message_pk != two.message_pk and blobs(app) == 1
    assert app.raw.get(hashlib.sha256(raw).hexdigest()) == raw


def test_remove_deletes_inline_bytes_and_files(app: App) -> None:
    small = accept(app, project="demo", raw=sized(7, 400), channel="smtp")
    large = accept(app, project="demo", raw=sized(8, LIMIT * 2), channel="smtp")
    with unit_of_work(app.sessions) as session:
        shas = [session.get_one(Message, s.message_pk).sha256 for s in (small, large)]
    assert all(app.raw.remove(sha) for sha in shas)
    assert blobs(app) == 0 and files(app) == []
    assert not any(app.raw.exists(sha) or app.raw.verify(sha) for sha in shas)
    with pytest.raises(StoreError):
        app.raw.get(shas[0])


def test_over_smtp_a_small_message_is_inline_and_answered_once_committed(
        app: App, listen: Callable[..., int]) -> None:
    import smtplib

    port = listen(app)
    with smtplib.SMTP("127.0.0.1", port) as client:
        code, _ = client.ehlo("client.example")
        assert code == 250 and client.has_extn("pipelining")
        client.send_message(make_mail(subject="inline over SMTP"),
                            from_addr="lina@xdyj.example.com",
                            to_addrs=["proj-demo@gw.example.com"])
    assert files(app) == [] and blobs(app) == 1
    with app.engine.connect() as conn:
        data = conn.execute(text("SELECT data FROM raw_blobs")).scalar_one()
    assert b"inline over SMTP" in bytes(data) and bytes(data).startswith(b"Received: from ")
