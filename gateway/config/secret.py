"""The gateway's secret key and its private data folder.

The key signs reply addresses and archive manifests. It comes from ``COMMGATE_SECRET_KEY``, or
in the embedded default from ``<data_dir>/secret_key``, generated once — whole or not at all,
even with several processes starting together. The data folder is kept 0700: it holds the key,
the mail and the records.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from gateway.config.env import PREFIX as ENV_PREFIX
from gateway.errors import ConfigError

MIN_SECRET = 16


def secret_key(data_dir: Path, environ: Mapping[str, str]) -> bytes:
    """``$COMMGATE_SECRET_KEY``, else the key file (made on first use); ConfigError if short."""
    value = environ.get(ENV_PREFIX + "SECRET_KEY", "")
    if value:
        if len(value) < MIN_SECRET:
            raise ConfigError("secret key is shorter than 16 characters", file="environment",
                              key="COMMGATE_SECRET_KEY", hint="use e.g. `openssl rand -hex 32`")
        return value.encode()
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        _create_secret_key(data_dir, key_file)
    try:
        key = key_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the secret key: {exc}", file=str(key_file)) from None
    if len(key) < MIN_SECRET:
        raise ConfigError(f"the secret key file is {'empty' if not key else 'too short'} "
                          f"({len(key)} characters, at least {MIN_SECRET} needed)",
                          file=str(key_file),
                          hint="restore it from a backup (reply addresses and archive "
                               "signatures depend on it), or delete it to make a new one")
    return key.encode()


def _create_secret_key(data_dir: Path, key_file: Path) -> None:
    """Make the key file whole or not at all: written to a private temporary file, then linked
    to its name, which fails if another process got there first (its key is the one kept).
    Readers never see a half-written or empty file."""
    make_private_dir(data_dir)
    tmp = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, key_file)
    finally:
        tmp.unlink(missing_ok=True)


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) as 0700: the data folder holds the key, mail and records."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # a folder we do not own is the operator's choice
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o700)
