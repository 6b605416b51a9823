"""Anchors: the audit chain's head written outside the database, so a rollback shows.

A hash chain proves its entries were not edited one by one, but whoever can write the database
can delete the last events and move ``audit_heads`` back (or restore last week's backup) and
the shorter chain is perfectly consistent. So the head — (project, seq, hash) — is also written
where the database cannot take it back:

* ``<data_dir>/audit-anchors.log``, one JSON line per anchor, mode 0600, appended (``O_APPEND``,
  fsynced) daily by the scheduler (:func:`anchor_if_due`), on demand by ``commgate audit verify
  --anchor``, and at every archive export and handover. Each line carries an HMAC-SHA256 under
  a key derived from the gateway secret, so an edited line is named;
* every archive (``archive.json`` and the signed ``MANIFEST.sig``) and every handover mail.

``audit verify`` (gateway/audit/verify.py) then checks that the chain still holds, at each
anchored seq, the entry whose hash was anchored. Pure parsing and checking here, file I/O in
:func:`append` and :func:`read`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gateway.audit.chain import canonical, head_of
from gateway.store.db import unit_of_work

if TYPE_CHECKING:
    from gateway.app import App
    from gateway.config.settings import Settings

log = logging.getLogger(__name__)

FILE = "audit-anchors.log"
DAILY = timedelta(hours=24)
_CONTEXT = b"commgate audit-anchor v1"


@dataclass(frozen=True)
class Anchor:
    at: str
    project: str
    project_id: int
    seq: int
    hash: str
    reason: str
    line: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"v": 1, "at": self.at, "project": self.project, "project_id": self.project_id,
                "seq": self.seq, "hash": self.hash, "reason": self.reason}


def path_of(settings: Settings) -> Path:
    return settings.data_dir / FILE


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT, hashlib.sha256).digest()


def _mac(secret: bytes, body: dict[str, Any]) -> str:
    return hmac.new(_key(secret), canonical(body), hashlib.sha256).hexdigest()


def line_of(anchor: Anchor, secret: bytes) -> str:
    body = anchor.as_dict()
    return json.dumps({**body, "mac": _mac(secret, body)}, ensure_ascii=False,
                      sort_keys=True) + "\n"


def parse(lines: Iterable[str], secret: bytes) -> tuple[list[Anchor], list[int]]:
    """The valid anchors, and the numbers of lines that are not (edited, truncated, forged)."""
    good: list[Anchor] = []
    bad: list[int] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            mac = data.pop("mac")
            anchor = Anchor(at=str(data["at"]), project=str(data["project"]),
                            project_id=int(data["project_id"]), seq=int(data["seq"]),
                            hash=str(data["hash"]), reason=str(data["reason"]), line=number)
        except (ValueError, KeyError, TypeError, AttributeError):
            bad.append(number)
            continue
        if not isinstance(mac, str) or not hmac.compare_digest(mac, _mac(secret, data)) \
                or anchor.as_dict() != data:
            bad.append(number)
            continue
        good.append(anchor)
    return good, bad


def read(settings: Settings) -> tuple[list[Anchor], list[int]]:
    """The anchors file's anchors (none if there is no file yet) and its bad line numbers."""
    try:
        with path_of(settings).open(encoding="utf-8", errors="replace") as fh:
            return parse(fh, settings.secret_key)
    except FileNotFoundError:
        return [], []


def append(settings: Settings, anchors: list[Anchor]) -> None:
    """Append ``anchors`` in one write (lines short enough to stay whole), fsynced, mode 0600."""
    if not anchors:
        return
    data = "".join(line_of(a, settings.secret_key) for a in anchors).encode("utf-8")
    target = path_of(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def current(app: App, reason: str, codes: Iterable[str] | None = None) -> list[Anchor]:
    """Anchors of the projects' heads now (not yet written)."""
    now = app.clock().astimezone(UTC).isoformat(timespec="seconds")
    out: list[Anchor] = []
    with unit_of_work(app.sessions) as session:
        for code in sorted(codes if codes is not None else app.project_ids):
            pid = app.project_ids[code]
            seq, chain_hash = head_of(session, pid)
            out.append(Anchor(at=now, project=code, project_id=pid, seq=seq, hash=chain_hash,
                              reason=reason))
    return out


def anchor_now(app: App, reason: str, codes: Iterable[str] | None = None) -> list[Anchor]:
    """Write the heads of ``codes`` (default: every project) to the anchors file."""
    anchors = [a for a in current(app, reason, codes) if a.seq > 0]
    append(app.settings, anchors)
    return anchors


def anchor_if_due(app: App) -> list[Anchor]:
    """The scheduler's daily anchor: projects whose last anchor is older than a day (or none)."""
    anchors, _bad = read(app.settings)
    last: dict[str, datetime] = {}
    for anchor in anchors:
        try:
            at = datetime.fromisoformat(anchor.at)
        except ValueError:
            continue
        if anchor.project not in last or at > last[anchor.project]:
            last[anchor.project] = at
    now = app.clock()
    due = [code for code in app.project_ids
           if code not in last or now - last[code] >= DAILY]
    if not due:
        return []
    written = anchor_now(app, "daily", due)
    if written:
        log.info("audit chain anchored to %s: %s", path_of(app.settings),
                 ", ".join(f"{a.project} seq {a.seq}" for a in written))
    return written


def safe_anchor_if_due(app: App) -> None:
    """For the scheduler loops: never raises."""
    try:
        anchor_if_due(app)
    except Exception:
        log.exception("writing the audit anchors failed; the next pass retries")
