"""One IMAP sync pass for one project mailbox: fetch what is new, store it, then mark it.

The order is what makes the channel lossless (DESIGN §2, "durable first"):

1. read the folder's UIDVALIDITY and the durable cursor (gateway/store/imap_models.py); a new
   UIDVALIDITY starts the cursor over (RFC 3501 §2.3.1.1) — the messages already stored come back
   as further arrivals, never as new messages, because intake dedups on Message-ID + body hash;
2. fetch new messages with ``BODY.PEEK[]`` (RFC 3501 §6.4.5), which does not set ``\\Seen``;
3. store each through :func:`gateway.inbound.intake.accept` (channel ``"imap"``);
4. only then flag or move them on the server, and advance the cursor.

A crash between any two steps repeats at most steps 2–4 for one batch: nothing is skipped and
nothing is stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from gateway.app import App
from gateway.config.settings import ImapMailbox
from gateway.inbound.intake import accept
from gateway.observe.metrics import MESSAGES_ACCEPTED
from gateway.store.db import unit_of_work
from gateway.store.imap_models import ImapCursor

log = logging.getLogger(__name__)


def account_of(cfg: ImapMailbox) -> str:
    return f"{cfg.user}@{cfg.host}:{cfg.effective_port}"


def cursor_position(app: App, project: str, cfg: ImapMailbox, uidvalidity: int) -> int:
    """The last UID stored from this folder under ``uidvalidity`` (0: start from the top)."""
    project_id = app.project_ids[project]
    with unit_of_work(app.sessions) as session:
        cursor = session.scalars(select(ImapCursor).where(
            ImapCursor.project_id == project_id, ImapCursor.account == account_of(cfg),
            ImapCursor.folder == cfg.folder)).one_or_none()
        if cursor is None:
            session.add(ImapCursor(project_id=project_id, account=account_of(cfg),
                                   folder=cfg.folder, uidvalidity=uidvalidity, last_uid=0))
            return 0
        if cursor.uidvalidity != uidvalidity:
            log.warning("%s %s: UIDVALIDITY changed %d → %d; rescanning the folder (messages "
                        "already stored count as further arrivals)", project, cfg.folder,
                        cursor.uidvalidity, uidvalidity)
            cursor.uidvalidity, cursor.last_uid = uidvalidity, 0
            cursor.updated_at = app.clock()
        return cursor.last_uid


def advance_cursor(app: App, project: str, cfg: ImapMailbox, uidvalidity: int,
                   last_uid: int) -> None:
    with unit_of_work(app.sessions) as session:
        cursor = session.scalars(select(ImapCursor).where(
            ImapCursor.project_id == app.project_ids[project],
            ImapCursor.account == account_of(cfg),
            ImapCursor.folder == cfg.folder)).one()
        if cursor.uidvalidity == uidvalidity and last_uid > cursor.last_uid:
            cursor.last_uid, cursor.updated_at = last_uid, app.clock()


def sync_folder(app: App, project: str, cfg: ImapMailbox, client: Any,
                on_stored: Callable[[int], object],
                should_stop: Callable[[], bool] = lambda: False) -> int:
    """Store every message above the cursor; return how many were new to the gateway."""
    selected = client.select_folder(cfg.folder)
    uidvalidity = int(selected[b"UIDVALIDITY"])
    last_uid = cursor_position(app, project, cfg, uidvalidity)
    # "n:*" always matches the highest UID, even when it is below n (RFC 3501 §6.4.8).
    uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
    own_keyword = cfg.after_store == "flag" and not cfg.flag.startswith("\\")
    stored = 0
    for start in range(0, len(uids), cfg.batch_size):
        if should_stop():
            break
        batch = uids[start:start + cfg.batch_size]
        fetched = client.fetch(batch, ["BODY.PEEK[]", "FLAGS"])
        done: list[int] = []
        for uid in batch:
            item = fetched.get(uid)
            if item is None or b"BODY[]" not in item:
                continue  # expunged since the search
            flags = {f.decode() if isinstance(f, bytes) else str(f)
                     for f in item.get(b"FLAGS", ())}
            if own_keyword and cfg.flag in flags:
                continue  # we stored it before (our keyword is only set after storing)
            result = accept(app, project=project, raw=bytes(item[b"BODY[]"]), channel="imap",
                            peer=account_of(cfg), envelope_from="",
                            envelope_to=[app.settings.project(project).address])
            MESSAGES_ACCEPTED.labels(channel="imap").inc()
            if not result.duplicate:
                stored += 1
                on_stored(result.message_pk)
            done.append(uid)
        if done:
            mark_stored(client, cfg, done)
        advance_cursor(app, project, cfg, uidvalidity, batch[-1])
    if stored:
        log.info("%s: %d new message(s) from IMAP %s", project, stored, cfg.folder)
    return stored


def mark_stored(client: Any, cfg: ImapMailbox, uids: list[int]) -> None:
    """The after-store action: a flag or keyword (RFC 3501 §2.3.2), or a move (RFC 6851)."""
    if cfg.after_store == "flag":
        client.add_flags(uids, [cfg.flag.encode()], silent=True)
        return
    if client.has_capability("MOVE"):
        client.move(uids, cfg.move_to)
        return
    client.copy(uids, cfg.move_to)  # RFC 3501 without MOVE: copy, delete, expunge
    client.delete_messages(uids, silent=True)
    client.expunge(uids if client.has_capability("UIDPLUS") else None)
