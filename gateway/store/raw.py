"""The raw store: every message's bytes exactly as received, content-addressed by SHA-256.

A file is written to a temporary name, fsynced, renamed into place and its folder fsynced, so a
crash leaves either the whole file or none of it. Writing the same bytes twice is a no-op. The
gateway never re-serialises a parsed message: what is stored here is what any later use reads.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from gateway.errors import StoreError


class RawStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.eml"

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its SHA-256; raise StoreError when the disk fails."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        try:
            self._make_dirs(target.parent)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            _fsync_dir(target.parent)
        except OSError as exc:
            raise StoreError(f"cannot write raw message: {exc.strerror or exc}",
                             hint="check free space and permissions of the data folder") from exc
        return digest

    def _make_dirs(self, folder: Path) -> None:
        """Create the fan-out folders; a new folder's entry is fsynced in its parent, so a power
        cut cannot drop the folder (and with it a message already answered 250)."""
        if folder.is_dir():
            return
        missing = []
        probe = folder
        while not probe.is_dir():
            missing.append(probe)
            probe = probe.parent
        for path in reversed(missing):
            path.mkdir(exist_ok=True)
            _fsync_dir(path.parent)

    def get(self, sha256: str) -> bytes:
        try:
            return self.path(sha256).read_bytes()
        except OSError as exc:
            raise StoreError(f"raw message {sha256} unreadable: {exc.strerror or exc}") from exc

    def verify(self, sha256: str) -> bool:
        try:
            return hashlib.sha256(self.path(sha256).read_bytes()).hexdigest() == sha256
        except OSError:
            return False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
