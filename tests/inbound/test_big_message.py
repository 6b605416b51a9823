"""One big message never holds up the rest (issue 16, intake).

A 20 MiB text mail spent a minute in classification (hundreds of regular-expression scans of the
whole text) while holding SQLite's write lock, so other senders got ``451`` and scheduler ticks
failed with "database is locked". Now every text stage reads a bounded prefix
(``text_stage_max``) — the whole text is still stored and searchable — and parsing and
classifying run before the write transaction opens.
"""

from __future__ import annotations

import smtplib
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

import gateway.stages.classify
from gateway.app import App
from gateway.inbound.intake import accept
from gateway.pipeline import process
from gateway.runtime.server import Server
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from tests.inbound.wire import DEMO
from tests.support.mail import wait_for

LINE = "今天巡检了核心交换机，一切正常，请各位知悉。The switch was checked, all is well.\r\n"
TAIL = "尾声标记 ZEBRA-7731"


def big_mail(size: int, n: int = 1) -> bytes:
    body = LINE * (size // len(LINE.encode())) + TAIL + "\r\n"
    return (f"From: lina@xdyj.example.com\r\nTo: {DEMO}\r\nSubject: 巡检日志 {n}\r\n"
            f"Message-ID: <big-{n}@xdyj.example.com>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            "\r\n" + body).encode()


def small_mail(n: int) -> bytes:
    return (f"From: wangqiang@xdyj.example.com\r\nTo: {DEMO}\r\nSubject: 小邮件 {n}\r\n"
            f"Message-ID: <small-{n}@xdyj.example.com>\r\n\r\n收到。\r\n").encode()


class ClassifySpy:
    """What classification was given, and whether anyone held the database's write lock."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.db_path = ""

    def write_lock_free(self) -> bool:
        conn = sqlite3.connect(self.db_path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")  # fails at once if a writer holds the lock
            conn.execute("ROLLBACK")
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            conn.close()


@pytest.fixture
def seen_by_classify(monkeypatch: pytest.MonkeyPatch) -> ClassifySpy:
    spy = ClassifySpy()
    real = gateway.stages.classify.classify

    def classify(facts: Any, project: Any, **kwargs: Any) -> Any:
        spy.seen.append({"chars": len(facts.own_text), "write_lock_free": spy.write_lock_free()})
        return real(facts, project, **kwargs)

    monkeypatch.setattr(gateway.stages.classify, "classify", classify)
    return spy


def test_text_stages_read_a_bounded_prefix_and_the_whole_text_is_kept(
        make_app: Callable[..., App], seen_by_classify: ClassifySpy) -> None:
    # Given a limit of 4,096 characters for the text stages, and a 200 kB text mail
    app = make_app(COMMGATE_TEXT_STAGE_MAX="4096")
    seen_by_classify.db_path = str(app.settings.data_dir / "commgate.db")
    stored = accept(app, project="demo", raw=big_mail(200_000), channel="smtp")
    # When it is processed
    assert process(app, stored.message_pk) == "processed"
    # Then classification saw a bounded prefix only
    assert [s["chars"] for s in seen_by_classify.seen] == [4096]
    # And the whole text is stored, so its last words are searchable
    with unit_of_work(app.sessions) as session:
        own = session.scalars(select(Message.own_text)
                              .where(Message.id == stored.message_pk)).one()
    assert own is not None and TAIL in own and len(own) > 100_000


def test_classification_runs_before_the_write_transaction(
        make_app: Callable[..., App], seen_by_classify: ClassifySpy) -> None:
    app = make_app()
    seen_by_classify.db_path = str(app.settings.data_dir / "commgate.db")
    stored = accept(app, project="demo", raw=big_mail(20_000), channel="smtp")
    assert process(app, stored.message_pk) == "processed"
    # While the text was being classified, another writer could have taken the lock
    assert [s["write_lock_free"] for s in seen_by_classify.seen] == [True]


def test_a_20_mib_text_mail_does_not_stop_other_senders(
        make_app: Callable[..., App], start_server: Callable[..., Server]) -> None:
    # Given a gateway with its workers running
    app = make_app()
    server = start_server(app, run_workers=True)
    assert server.smtp_port is not None
    port = server.smtp_port
    # When a 20 MiB text mail arrives and is being processed
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        assert client.sendmail("lina@xdyj.example.com", [DEMO], big_mail(20 * 2 ** 20)) == {}
    # And meanwhile other senders send small mail, side by side
    replies: list[object] = []

    def sender(n: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
                replies.append(client.sendmail("wangqiang@xdyj.example.com", [DEMO],
                                               small_mail(n)))
        except smtplib.SMTPException as exc:
            replies.append(exc)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    # Then every one of them got 250
    assert replies == [{}] * 5

    # And the big one is processed, with its whole text kept
    def states() -> dict[str, str] | None:
        with unit_of_work(app.sessions) as session:
            rows = dict(session.execute(select(Message.message_id, Message.state)).all())
        done = all(state != "received" for state in rows.values()) and len(rows) == 6
        return rows if done else None

    rows = wait_for(states, timeout=600, interval=0.5)
    assert rows["big-1@xdyj.example.com"] == "processed"
