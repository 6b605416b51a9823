"""The raw store: every message's bytes exactly as received, content-addressed by SHA-256.

Two places, one key:

- **inline**: a message of at most ``raw_inline_max`` bytes (gateway.toml, default 64 KiB) is
  kept in the database, table ``raw_blobs``, written in the same transaction as its message row
  (gateway/inbound/intake.py). Its bytes are durable exactly when the row is: one commit, one
  flush of the database log, and no way for a row to outlive its bytes. This is how a small
  message costs one disk flush instead of two, and no file creation at all;
- **files**: larger messages, and all of them with ``raw_inline_max = 0``, under ``raw/``.

Readers do not care which: :meth:`RawStore.get` looks in the database first, then for a file.

Layout: ``raw/<first two hex digits>/<sha256>.eml`` — one level of 256 folders, as git's loose
objects. They all exist after the first few thousand messages, so a message costs one new
inode, not two: with two levels (65,536 folders, the layout before 2026-11) most messages of a
young store also made a folder, about a tenth of the intake writer's CPU. A file in the old
layout (``raw/ab/cd/<sha256>.eml``) is still found where it is.

A file is written to a temporary name and renamed into place, so a reader sees either the whole
file or none of it. Writing the same bytes twice is a no-op. The gateway never re-serialises a
parsed message: what is stored here is what any later use reads.

Durability comes in two ways, and a row may reference a file only after one of them returned:

- per file (``put``): the file is fsynced before the rename and its folder after it;
- per batch (``put(defer_sync=True)`` then ``sync``): files are written and renamed without a
  flush, and ``sync`` makes a whole batch durable with ONE ``syncfs(2)`` on the store's file
  system. sync(2) says Linux waits for the I/O, so syncfs "provides the same guarantees as fsync
  called on every file in the filesystem" — data and metadata, renames and new folders included.
  Writeback errors are reported by syncfs only since Linux 5.8 (before, it failed only with
  EBADF), and only those noticed since the descriptor was opened: so batch sync is offered on
  Linux >= 5.8 only, through one descriptor opened before the first deferred write.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from gateway.errors import StoreError
from gateway.store import fsync

_SELECT_BLOB = text("SELECT data FROM raw_blobs WHERE sha256 = :sha256")
_DELETE_BLOB = text("DELETE FROM raw_blobs WHERE sha256 = :sha256")


class RawStore:
    """Raw bytes by SHA-256, inline in the database (``engine``) or in files under ``root``.

    Without an engine (tools that only handle files) everything is a file.
    """

    def __init__(self, root: Path, *, engine: Engine | None = None, inline_max: int = 0) -> None:
        self.engine = engine
        self.inline_max = inline_max if engine is not None else 0
        self._known_dirs: set[str] = set()  # fan-out folders known to exist
        self._durable_dirs: set[str] = set()  # … and known to be on disk with their parents
        self.root = root
        self._fs_fd: int | None = None  # open on the store's file system while batch sync is on
        self._unflushed_dirs = False  # a deferred put made folders whose entries syncfs flushes
        self._names = itertools.count()  # temporary file names, unique with pid and thread
        self._flusher: ThreadPoolExecutor | None = None

    @property
    def root(self) -> Path:
        return self._root_path

    @root.setter
    def root(self, root: Path) -> None:
        self._root_path = root
        self._root = str(root)
        self._known_dirs.clear()
        self._durable_dirs.clear()

    def inline(self, size: int) -> bool:
        """Whether a message of ``size`` bytes is kept inline (its row's transaction stores it:
        gateway/inbound/intake.py). Never with ``inline_max = 0``."""
        return self.inline_max > 0 and size <= self.inline_max

    @property
    def batch_sync(self) -> bool:
        return self._fs_fd is not None

    def start_batch_sync(self) -> bool:
        """Turn on one ``syncfs`` per batch; False where unavailable (then: per-file fsync)."""
        if fsync.syncfs is None:
            return False
        if self._fs_fd is None:
            self._make_dirs(self.root, durable=True)
            # Opened before any deferred write: syncfs reports errors seen since this open.
            self._fs_fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        return True

    def stop_batch_sync(self) -> None:
        if self._flusher is not None:
            self._flusher.shutdown(wait=True)
            self._flusher = None
        fd, self._fs_fd = self._fs_fd, None
        if fd is not None:
            os.close(fd)

    def path(self, sha256: str) -> Path:
        """Where a new file for ``sha256`` goes."""
        return self.root / sha256[:2] / f"{sha256}.eml"

    def locate(self, sha256: str) -> Path:
        """Where the file for ``sha256`` is: :meth:`path`, or its place in the old two-level
        layout if only that exists."""
        path = self.path(sha256)
        if not path.exists():
            legacy = self._legacy_path(sha256)
            if legacy.exists():
                return legacy
        return path

    def _legacy_path(self, sha256: str) -> Path:
        """The two-level layout of releases before 2026-11."""
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.eml"

    def remove(self, sha256: str, *, conn: Connection | None = None) -> bool:
        """Delete the bytes of ``sha256`` wherever they are — its ``raw_blobs`` row (in ``conn``'s
        transaction if given), its file in either layout; False if there were none."""
        removed = False
        if self.engine is not None:
            with contextlib.ExitStack() as stack:
                db = conn if conn is not None else stack.enter_context(self.engine.begin())
                removed = db.execute(_DELETE_BLOB, {"sha256": sha256}).rowcount > 0
        for path in (self.path(sha256), self._legacy_path(sha256)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed = True
        return removed

    def put(self, data: bytes, *, defer_sync: bool = False) -> str:
        """Store ``data`` and return its SHA-256; raise StoreError when the disk fails.

        Durable on return, unless ``defer_sync``: then only after :meth:`sync` of the digest.
        On the SMTP listener's hot path: plain string paths, and folders known to exist are
        not looked at again.
        """
        digest = hashlib.sha256(data).hexdigest()
        folder = os.path.join(self._root, digest[:2])
        target = os.path.join(folder, f"{digest}.eml")
        try:
            if self._intact(target, digest, len(data)):
                if not defer_sync:  # it may be another session's file, not yet flushed
                    fsync.fsync_chain(self.root, Path(target))
                return digest
            try:
                tmp = self._write_temp(folder, data, durable=not defer_sync)
            except FileNotFoundError:  # the folder is gone (removed by hand): make it again
                self._known_dirs.discard(folder)
                tmp = self._write_temp(folder, data, durable=not defer_sync)
            try:
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            if not defer_sync:
                if self._unflushed_dirs or folder not in self._durable_dirs:
                    # The folder may be a deferred put's, not yet flushed — ours, or another
                    # process's (the intake writer's): flush its entries up to the root, once.
                    fsync.fsync_chain(self.root, Path(target))
                    if not self._unflushed_dirs:
                        self._durable_dirs.add(folder)
                else:
                    fsync.fsync_dir(Path(folder))
        except OSError as exc:
            raise StoreError(f"cannot write raw message: {exc.strerror or exc}",
                             hint="check free space and permissions of the data folder") from exc
        return digest

    def _write_temp(self, folder: str, data: bytes, *, durable: bool) -> str:
        """Write ``data`` to a new private file in ``folder`` (made first if need be)."""
        if folder not in self._known_dirs:
            if durable:
                self._make_dirs(Path(folder), durable=True)
            else:  # usually one mkdir: its parent exists, and syncfs will flush the new entry
                try:
                    os.mkdir(folder)
                    self._unflushed_dirs = True
                except FileExistsError:
                    pass
                except FileNotFoundError:
                    self._make_dirs(Path(folder), durable=False)
            self._known_dirs.add(folder)
        tmp = os.path.join(folder, f".tmp-{os.getpid()}-{threading.get_ident()}-"
                                   f"{next(self._names)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.close(fd)
        return tmp

    def sync(self, digests: Iterable[str]) -> None:
        """Make files put with ``defer_sync`` durable: one syncfs, or fsync per file and folder.

        Raises StoreError on failure: the caller must not commit rows for these files.
        """
        fd = self._fs_fd
        try:
            if fd is not None and fsync.syncfs is not None:
                fsync.sync_filesystem(fd)
                return
            for digest in sorted(set(digests)):
                fsync.fsync_chain(self.root, self.path(digest))
        except OSError as exc:
            raise StoreError(f"cannot flush raw messages: {exc.strerror or exc}",
                             hint="check the disk holding the data folder") from exc

    def sync_in_background(self, digests: list[str]) -> Future[None]:
        """:meth:`sync` in the store's flush thread; the future raises its StoreError."""
        if self._flusher is None:
            self._flusher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="commgate-flush")
        return self._flusher.submit(self.sync, digests)

    def _intact(self, target: str, digest: str, size: int) -> bool:
        """An existing file counts only with the right bytes: after a power cut, a file renamed
        but never flushed may be empty or torn (it has no row yet; rewriting it is safe)."""
        try:
            if os.stat(target).st_size != size:
                return False
            with open(target, "rb") as fh:
                return hashlib.sha256(fh.read()).hexdigest() == digest
        except FileNotFoundError:
            return False

    def _make_dirs(self, folder: Path, *, durable: bool) -> None:
        """Create the fan-out folders; a new folder's entry is fsynced in its parent (unless the
        batch's syncfs will), so a power cut cannot drop a folder holding an answered message."""
        if folder.is_dir():
            return
        missing = []
        probe = folder
        while not probe.is_dir():
            missing.append(probe)
            probe = probe.parent
        for path in reversed(missing):
            path.mkdir(exist_ok=True)
            if durable:
                fsync.fsync_dir(path.parent)
            else:
                self._unflushed_dirs = True

    def _blob(self, sha256: str) -> bytes | None:
        if self.engine is None:
            return None
        try:
            with self.engine.connect() as conn:
                data = conn.execute(_SELECT_BLOB, {"sha256": sha256}).scalar()
        except SQLAlchemyError as exc:
            raise StoreError(f"raw message {sha256} unreadable: database unavailable "
                             f"({type(exc).__name__})") from exc
        return None if data is None else bytes(data)

    def get(self, sha256: str) -> bytes:
        data = self._blob(sha256)
        if data is not None:
            return data
        try:
            return self.locate(sha256).read_bytes()
        except OSError as exc:
            raise StoreError(f"raw message {sha256} unreadable: {exc.strerror or exc}") from exc

    def exists(self, sha256: str) -> bool:
        """Whether bytes are stored under ``sha256`` at all (right or altered)."""
        return self._blob(sha256) is not None or self.locate(sha256).exists()

    def verify(self, sha256: str) -> bool:
        try:
            return hashlib.sha256(self.get(sha256)).hexdigest() == sha256
        except StoreError:
            return False
