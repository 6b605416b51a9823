"""A full disk: ``451`` while it is, mail accepted again when space returns.

Twice, for both places a message's bytes can go: the raw store's files (``raw_inline_max = 0``;
the raw folder is a tiny tmpfs) and the database (small messages inline, the default; the whole
data folder, SQLite included, is a tiny tmpfs). Mounting needs root; elsewhere the tests are
skipped with the reason. A real ``commgate serve`` takes a stream of directives; the file system
is filled mid-stream: the listener must answer ``451`` (the client retries), store nothing half
(no temporary file, no row without its bytes), and accept again as soon as the filler is removed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store.models import Message, RawBlob
from tests.faults.support import (
    Gateway,
    Stream,
    assert_processed_exactly_once,
    database,
    gateway_in,
    wait_until,
)


@contextmanager
def tiny_file_system(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True)
    if os.getuid() != 0:
        pytest.skip("mounting a tiny file system needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True, timeout=30, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30,
                       check=False)


@pytest.fixture
def tiny_raw_store(tmp_path: Path) -> Iterator[Path]:
    with tiny_file_system(tmp_path / "var" / "raw", "2m") as raw:
        yield raw


@pytest.fixture
def gateway(tmp_path: Path, tiny_raw_store: Path) -> Iterator[Gateway]:
    with gateway_in(tmp_path, COMMGATE_RAW_INLINE_MAX="0") as gw:  # every message a file
        yield gw


def fill(folder: Path) -> Path:
    """Write until the file system says ENOSPC; the filler file is returned for removal."""
    filler = folder / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError:
            pass
    return filler


def refused_while_full_then_accepted(gateway: Gateway, folder: Path) -> None:
    """Stream 100 directives, fill ``folder``'s file system after 20: ``451`` while it is full,
    nothing acknowledged meanwhile, everything accepted once space returns, and every
    acknowledged message processed exactly once."""
    gateway.serve()
    stream = Stream(gateway.port, 100, pause=0.02).start()
    wait_until(lambda: len(stream.acked) >= 20, timeout=90, what="20 messages acknowledged")
    # When the file system fills up
    filler = fill(folder)
    wait_until(lambda: stream.tempfails or not stream.thread.is_alive(), timeout=60,
               what="a refusal while the disk is full")
    stalled = len(stream.acked)
    # Then the client is told to retry (451) and nothing more is acknowledged
    assert stream.tempfails["451"] > 0, (stream.tempfails, gateway.log())
    wait_until(lambda: stream.tempfails["451"] >= 3, timeout=60, what="three retries refused")
    assert len(stream.acked) == stalled
    # And when space returns the rest is accepted
    filler.unlink()
    stream.join()
    assert len(stream.acked) == 100
    assert_processed_exactly_once(gateway.database_url, stream.acked, log=gateway.log)


@pytest.mark.slow
def test_a_full_raw_store_answers_451_and_accepts_again_when_space_returns(
        gateway: Gateway, tiny_raw_store: Path) -> None:
    # Given a gateway whose raw store is a 2 MiB file system, and a client streaming directives
    refused_while_full_then_accepted(gateway, tiny_raw_store)
    # And every stored message's raw file is whole, with no temporary file left
    leftovers = [p.name for p in tiny_raw_store.rglob(".tmp-*")]
    assert leftovers == []
    with database(gateway.database_url) as engine, Session(engine) as session:
        digests = list(session.scalars(select(Message.sha256)))
    files = {p.name.removesuffix(".eml"): p for p in tiny_raw_store.rglob("*.eml")}
    assert set(digests) <= set(files)
    assert [d for d in digests if hashlib.sha256(files[d].read_bytes()).hexdigest() != d] == []


@pytest.mark.slow
def test_a_full_database_disk_answers_451_and_accepts_again_when_space_returns(
        tmp_path: Path) -> None:
    # Given a gateway whose whole data folder (SQLite with the inline raw bytes) is 16 MiB
    with tiny_file_system(tmp_path / "var", "16m") as data, gateway_in(tmp_path) as gateway:
        refused_while_full_then_accepted(gateway, data)
        # And every stored message's bytes are whole, in the database (none needed a file)
        with database(gateway.database_url) as engine, Session(engine) as session:
            digests = list(session.scalars(select(Message.sha256)))
            stored = {sha: bytes(data) for sha, data
                      in session.execute(select(RawBlob.sha256, RawBlob.data))}
        assert set(digests) <= set(stored)
        assert [d for d in digests if hashlib.sha256(stored[d]).hexdigest() != d] == []
        assert list((data / "raw").rglob("*.eml")) == []
