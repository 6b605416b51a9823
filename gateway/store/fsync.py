"""Flushing the raw store's files to disk: one file and its folders, or a whole file system.

``syncfs(2)`` flushes every file of the store's file system at once, and since Linux 5.8 it
reports the writeback errors noticed since its descriptor was opened; before 5.8 it failed only
with EBADF, so :data:`syncfs` is None there (and off Linux), and the store fsyncs file by file
(gateway/store/raw.py says when each is used).
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import Callable
from pathlib import Path


def _load_syncfs() -> Callable[[int], int] | None:
    """libc's syncfs where it reports writeback errors (Linux >= 5.8), else None."""
    if platform.system() != "Linux":
        return None
    try:
        major, minor = (int(part) for part in platform.release().split(".")[:2])
        syncfs: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (ValueError, OSError, AttributeError):
        return None
    return syncfs if (major, minor) >= (5, 8) else None


syncfs = _load_syncfs()
"""libc's ``syncfs(2)``, or None where it cannot be trusted: then every file is fsynced."""


def sync_filesystem(fd: int) -> None:
    """One ``syncfs`` on the file system holding ``fd``; OSError on a writeback error."""
    if syncfs is None:
        raise OSError("syncfs(2) is not available here")
    if syncfs(fd) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def fsync_chain(root: Path, target: Path) -> None:
    """fsync a file and every folder entry up to the store's parent: a deferred write may have
    created the fan-out folder (or the store itself) without flushing it."""
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    for folder in (target.parent, root, root.parent):
        fsync_dir(folder)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
