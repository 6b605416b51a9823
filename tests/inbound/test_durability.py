"""Durable before 250 with batch sync: the raw files of a group commit are flushed with one
syncfs(2) — spied on here — before the rows are committed, and only then is anyone answered.

These are the raw *files*: every app here has ``raw_inline_max = 0``. Small messages kept in
the database are tests/inbound/test_inline_raw.py's."""

from __future__ import annotations

import ctypes
import errno
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select

import gateway.store.fsync as fsync_module
from gateway.app import App
from gateway.config.settings import Settings
from gateway.inbound.groupcommit import GroupCommitter
from gateway.inbound.intake import Accepted, prepare, record
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from gateway.store.raw import RawStore
from tests.inbound.wire import Wire, stored_messages

Events = list[str]


def mail(n: int) -> bytes:
    return (f"From: lina@xdyj.example.com\r\nSubject: durable {n}\r\n"
            f"Message-ID: <durable-{n}@xdyj.example.com>\r\n\r\nhello\r\n").encode()


def row_count(app: App) -> int:
    with unit_of_work(app.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)


@pytest.fixture
def make_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Every message a file, however small."""
    return lambda **env: make_settings(**{"COMMGATE_RAW_INLINE_MAX": "0", **env})


@pytest.fixture
def events() -> Events:
    return []


@pytest.fixture
def spy_syncfs(monkeypatch: pytest.MonkeyPatch, events: Events) -> dict[str, Any]:
    """Replace libc's syncfs: note each call, fail while ``state["fail"]`` is set."""
    state: dict[str, Any] = {"fail": False, "on_call": None}

    def syncfs(fd: int) -> int:
        events.append("sync")
        if state["on_call"] is not None:
            state["on_call"]()
        if state["fail"]:
            ctypes.set_errno(errno.EIO)
            return -1
        return 0

    monkeypatch.setattr(fsync_module, "syncfs", syncfs)
    return state


def note_commits(app: App, events: Events) -> None:
    """Note commits that wrote message rows (not the sweeps' or anyone else's)."""

    @event.listens_for(app.engine, "before_cursor_execute")
    def _inserting(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO MESSAGES"):
            conn.info["intake"] = True

    @event.listens_for(app.engine, "commit")
    def _committed(conn: Connection) -> None:
        if conn.info.pop("intake", False):
            events.append("commit")

    @event.listens_for(app.engine, "rollback")
    def _rolled_back(conn: Connection) -> None:  # the rows are written while the flush runs
        conn.info.pop("intake", None)


def test_a_session_is_answered_only_after_its_batch_is_synced_and_committed(
        app: App, spy_syncfs: dict[str, Any], events: Events) -> None:
    # Given a committer with batch sync on, and a spy that looks at the world while syncing
    note_commits(app, events)
    committer = GroupCommitter(app)
    try:
        assert app.raw.batch_sync
        spy_syncfs["on_call"] = lambda: events.append(f"rows at sync: {row_count(app)}")
        # When a session prepares a message (written, not flushed) and submits it
        item = prepare(app, project="demo", raw=mail(1), channel="smtp")
        assert not item.durable
        outcome = committer.submit(item)
        events.append("answered")
    finally:
        committer.close()
    # Then the flush came first, with no row yet; then the commit; then the answer
    assert events == ["sync", "rows at sync: 0", "commit", "answered"]
    assert isinstance(outcome, Accepted)
    assert app.raw.get(item.sha256) == mail(1)
    assert not app.raw.batch_sync  # closed with the committer


def test_a_failed_sync_answers_451_and_stores_no_row(make_app: Callable[..., App],
                                                     listen: Callable[..., int],
                                                     spy_syncfs: dict[str, Any],
                                                     events: Events) -> None:
    app = make_app(COMMGATE_SMTP__WRITER="thread")  # syncfs is spied on in this process
    note_commits(app, events)
    port = listen(app)
    # Given a disk whose flush fails (EIO from syncfs)
    spy_syncfs["fail"] = True
    with Wire(port) as wire:
        wire.envelope()
        code, text = wire.data(mail(1) + b".\r\n")
        # Then the client is told to retry, and nothing was committed
        assert (code, text[:5]) == (451, b"4.3.0")
        assert events == ["sync"]
        assert stored_messages(app) == []
        # When the disk is back, the retry is flushed, committed and answered 250, in that order
        spy_syncfs["fail"] = False
        wire.envelope(helo="RSET")
        code, _ = wire.data(mail(1) + b".\r\n")
        events.append(f"reply {code}")
    assert events == ["sync", "sync", "commit", "reply 250"]
    assert len(stored_messages(app)) == 1


def test_concurrent_sessions_share_one_sync(app: App, spy_syncfs: dict[str, Any],
                                            events: Events) -> None:
    committer = GroupCommitter(app)
    try:
        items = [prepare(app, project="demo", raw=mail(n), channel="smtp") for n in range(5)]
        # When five prepared messages are recorded as one batch (what the committer does with
        # everything waiting), one syncfs covers all five files
        outcomes = record(app, items)
    finally:
        committer.close()
    assert events == ["sync"]
    assert all(isinstance(o, Accepted) for o in outcomes) and row_count(app) == 5


def test_raw_sync_file_fsyncs_each_file_in_its_session(make_app: Callable[..., App],
                                                       spy_syncfs: dict[str, Any],
                                                       events: Events) -> None:
    app = make_app(COMMGATE_SMTP__RAW_SYNC="file")
    committer = GroupCommitter(app)
    try:
        item = prepare(app, project="demo", raw=mail(1), channel="smtp")
        assert item.durable and not app.raw.batch_sync
        assert isinstance(committer.submit(item), Accepted)
    finally:
        committer.close()
    assert events == []


def test_without_syncfs_batch_falls_back_to_fsync_per_file(
        app: App, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(fsync_module, "syncfs", None)  # not Linux, or a kernel before 5.8
    committer = GroupCommitter(app)
    try:
        assert not app.raw.batch_sync
        assert prepare(app, project="demo", raw=mail(1), channel="smtp").durable
    finally:
        committer.close()
    assert "syncfs(2) unavailable" in caplog.text


def spy_chain(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    flushed: list[Path] = []
    real = fsync_module.fsync_chain

    def chain(root: Path, target: Path) -> None:
        flushed.append(target)
        real(root, target)

    monkeypatch.setattr(fsync_module, "fsync_chain", chain)
    return flushed


def test_deferred_files_synced_without_syncfs_are_fsynced_one_by_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RawStore(tmp_path / "raw")
    flushed = spy_chain(monkeypatch)
    digests = [store.put(mail(n), defer_sync=True) for n in range(3)]
    assert flushed == []
    store.sync(digests + digests[:1])  # batch sync off: file, folders and store, once each
    assert sorted(flushed) == sorted(store.path(d) for d in digests)


def test_a_file_another_session_has_not_flushed_yet_is_flushed_by_a_per_file_writer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RawStore(tmp_path / "raw")
    digest = store.put(mail(1), defer_sync=True)
    flushed = spy_chain(monkeypatch)
    # An IMAP or import intake finds the same bytes already there: it must not trust them
    assert store.put(mail(1)) == digest
    assert flushed == [store.path(digest)]


def test_a_per_file_writer_flushes_folders_a_deferred_write_created(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = RawStore(tmp_path / "raw")
    store.put(mail(1), defer_sync=True)  # may have made fan-out folders nobody flushed yet
    flushed = spy_chain(monkeypatch)
    digest = store.put(mail(2))
    assert flushed == [store.path(digest)]  # file, its folders and the store's entry


def test_a_per_file_writer_flushes_a_folder_another_process_made_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the intake writer (another process: another RawStore) made a fan-out folder with a
    # deferred write, and the listener then writes a large message into that folder itself
    writer, listener = RawStore(tmp_path / "raw"), RawStore(tmp_path / "raw")
    first = writer.put(mail(1), defer_sync=True)
    same_folder = next(m for n in range(2, 100_000)
                       if hashlib.sha256(m := mail(n)).hexdigest()[:2] == first[:2])
    flushed = spy_chain(monkeypatch)
    digest = listener.put(same_folder)
    # Then the listener flushes the folder's entries up to the store, not only the file
    assert flushed == [listener.path(digest)]
    # And only the first time: the folder is known to be on disk from then on
    again = next(m for n in range(100_000, 400_000)
                 if hashlib.sha256(m := mail(n)).hexdigest()[:2] == first[:2])
    listener.put(again)
    assert flushed == [listener.path(digest)]


@pytest.mark.parametrize("left", [b"", b"\0" * len(mail(1))], ids=["empty", "torn"])
def test_a_file_renamed_but_never_flushed_before_a_power_cut_is_rewritten(
        tmp_path: Path, left: bytes) -> None:
    # Given what a power cut may leave of a deferred write: the name, without (all) the data
    store = RawStore(tmp_path / "raw")
    digest = hashlib.sha256(mail(1)).hexdigest()
    target = store.path(digest)
    target.parent.mkdir(parents=True)
    target.write_bytes(left)
    # When the client retries, the bytes are written again rather than trusted
    assert store.put(mail(1), defer_sync=True) == digest
    assert store.get(digest) == mail(1) and store.verify(digest)


def test_one_level_of_fan_out_folders(tmp_path: Path) -> None:
    store = RawStore(tmp_path / "raw")
    digest = store.put(mail(1))
    assert store.path(digest) == tmp_path / "raw" / digest[:2] / f"{digest}.eml"
    assert store.path(digest).read_bytes() == mail(1)


def test_a_file_in_the_old_two_level_layout_is_still_found_and_removed(tmp_path: Path) -> None:
    # Given a store written before the one-level layout: raw/ab/cd/<sha256>.eml
    store = RawStore(tmp_path / "raw")
    digest = hashlib.sha256(mail(1)).hexdigest()
    old = tmp_path / "raw" / digest[:2] / digest[2:4] / f"{digest}.eml"
    old.parent.mkdir(parents=True)
    old.write_bytes(mail(1))
    # Then it is read and verified where it is
    assert store.locate(digest) == old
    assert store.get(digest) == mail(1) and store.verify(digest)
    # And removed (retention) from there
    assert store.remove(digest) and not old.exists()
    assert not store.remove(digest) and not store.verify(digest)
