"""The archive's mail: every stored message as ``.eml`` with its attachments, and the mail the
gateway sent (outbox), each listed in a JSON Lines spool for ``messages.jsonl`` and the index.

The raw bytes come from the raw store and are checked against their SHA-256 on the way: a
missing or altered file is reported (and listed in the index), never silently skipped.
Attachments are re-parsed from those bytes with :func:`gateway.parse.parse_message`, forwarded
messages included, and written under their own — usually Chinese — names, sanitised.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.archive.names import safe_name, unique_name
from gateway.archive.zipstream import ArchiveWriter
from gateway.errors import GatewayError
from gateway.parse import parse_message
from gateway.parse.model import Attachment, ParsedMessage
from gateway.store.models import Message
from gateway.store.notify_models import OutboxMail
from gateway.store.raw import RawStore

BATCH = 500
Tick = Callable[[int], None]


def _attachments(parsed: ParsedMessage) -> list[Attachment]:
    found = list(parsed.attachments)
    for inner in parsed.forwarded:
        found += _attachments(inner)
    return found


def write_messages(session: Session, writer: ArchiveWriter, raw: RawStore, spool: IO[str], *,
                   project_id: int, until: datetime, problems: list[str],
                   tick: Tick) -> tuple[int, int]:
    """Messages and attachments into the zip; (messages, attachments) written."""
    cols = (Message.id, Message.message_id, Message.sha256, Message.received_at,
            Message.sent_at, Message.subject, Message.from_addr, Message.from_name,
            Message.state, Message.error, Message.record_id, Message.size)
    q = (select(*cols).where(Message.project_id == project_id, Message.received_at <= until)
         .order_by(Message.id).execution_options(yield_per=BATCH))
    messages = attachments = 0
    for (pk, mid, sha, received, sent, subject, sender, name, state, error, record_id,
         size) in session.execute(q):
        entry: dict[str, Any] = {
            "id": pk, "message_id": mid, "sha256": sha, "received_at": received.isoformat(),
            "sent_at": sent.isoformat() if sent else None, "subject": subject, "from": sender,
            "from_name": name, "state": state, "error": error, "record_id": record_id,
            "size": size, "file": None, "attachments": []}
        try:
            data = raw.get(sha)
        except GatewayError:
            problems.append(f"message {pk} <{mid}>: raw message missing ({sha})")
            data = None
        if data is not None:
            if hashlib.sha256(data).hexdigest() != sha:
                problems.append(f"message {pk} <{mid}>: raw message does not match its SHA-256 "
                                f"(altered in the store); archived as found")
                entry["raw_altered"] = True
            entry["file"] = f"messages/{pk:07d}.eml"
            writer.add_bytes(entry["file"], data)
            entry["attachments"] = _write_attachments(writer, pk, data, entry)
            attachments += len(entry["attachments"])
            del data
        spool.write(json.dumps(entry, ensure_ascii=False) + "\n")
        messages += 1
        tick(1)
    return messages, attachments


_FILE_HINT = re.compile(rb"multipart/|attachment|name\*?=", re.IGNORECASE)


def _may_have_files(data: bytes) -> bool:
    """Cheap pre-check (no copy of the bytes): a file needs a multipart body or a name."""
    return _FILE_HINT.search(data) is not None


def _write_attachments(writer: ArchiveWriter, pk: int, data: bytes,
                       entry: dict[str, Any]) -> list[dict[str, Any]]:
    if not _may_have_files(data):
        return []  # parsing is the export's main cost: skip mail that cannot hold a file
    try:
        parsed = parse_message(data)
    except GatewayError as exc:  # quarantined mail: the .eml is the record
        entry["attachments_error"] = str(exc)
        return []
    out: list[dict[str, Any]] = []
    taken: set[str] = set()
    for att in _attachments(parsed):
        name = unique_name(safe_name(att.filename), taken)
        path = f"attachments/{pk:07d}/{name}"
        # Already-compressed formats gain nothing from deflate; store them.
        compress = not name.lower().endswith((".zip", ".rar", ".7z", ".jpg", ".jpeg", ".png",
                                              ".gz", ".docx", ".xlsx", ".pptx", ".mp4"))
        writer.add_bytes(path, att.content, compress=compress)
        out.append({"file": path, "filename": att.filename, "content_type": att.content_type,
                    "size": att.size, "sha256": att.sha256})
    return out


def write_sent(session: Session, writer: ArchiveWriter, spool: IO[str], *, project_id: int,
               until: datetime) -> int:
    """Mail the gateway queued (notices, reports, reminders), from the outbox."""
    q = (select(OutboxMail).where(OutboxMail.project_id == project_id,
                                  OutboxMail.created_at <= until)
         .order_by(OutboxMail.id).execution_options(yield_per=100))
    count = 0
    for mail in session.scalars(q):
        path = f"sent/{mail.id:07d}.eml"
        writer.add_bytes(path, mail.raw)
        spool.write(json.dumps({
            "id": mail.id, "kind": mail.kind, "message_id": mail.message_id,
            "subject": mail.subject, "state": mail.state, "record_id": mail.record_id,
            "created_at": mail.created_at.isoformat(),
            "sent_at": mail.sent_at.isoformat() if mail.sent_at else None, "file": path},
            ensure_ascii=False) + "\n")
        session.expunge(mail)  # its raw bytes go with it
        count += 1
    return count
