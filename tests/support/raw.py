"""Altering the raw store behind the gateway's back, wherever a message's bytes are kept
(inline in the database or a file): what an attacker or a disk fault would do."""

from __future__ import annotations

from sqlalchemy import text

from gateway.app import App


def overwrite_raw(app: App, sha256: str, data: bytes) -> None:
    """Replace the stored bytes of ``sha256`` with ``data``, keeping the key."""
    with app.engine.begin() as conn:
        changed = conn.execute(text("UPDATE raw_blobs SET data = :data WHERE sha256 = :sha"),
                               {"data": data, "sha": sha256}).rowcount
    if not changed:
        app.raw.locate(sha256).write_bytes(data)


def drop_raw(app: App, sha256: str) -> None:
    assert app.raw.remove(sha256), f"no raw bytes for {sha256}"
