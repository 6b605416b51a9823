"""The Linux mailing-list archives in ``shared/corpora``, read with the stdlib parser only.

Tests using them skip with the reason when the folder is absent (a clone without ``shared/``);
set ``COMMGATE_CORPORA`` to point elsewhere. Nothing from the corpora is copied into the repo.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path

import pytest

from gateway.identity import normalize_message_id
from gateway.thread.evidence import ThreadEvidence, evidence

ARCHIVES = ("linux-erofs-archive", "linux-f2fs-devel-archive")
_ID = re.compile(r"<[^<>\s]+>")


def corpora_dir() -> Path:
    env = os.environ.get("COMMGATE_CORPORA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "corpora"


def require_archive(name: str) -> Path:
    folder = corpora_dir() / name
    if not (folder / "messages").is_dir():
        pytest.skip(f"corpus {name} not found at {folder} (set COMMGATE_CORPORA)")
    return folder


@dataclass(frozen=True)
class CorpusMessage:
    file: str
    raw: bytes
    evidence: ThreadEvidence
    header_ids: tuple[str, ...]  # In-Reply-To and References as written, for the truth graph
    component: int | None  # index.jsonl's thread grouping over the same headers (erofs only)


def _text(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (LookupError, UnicodeError, ValueError):
        return str(value)


def _date(msg: Message) -> datetime | None:
    try:
        return parsedate_to_datetime(str(msg.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None


@cache
def load(name: str) -> tuple[CorpusMessage, ...]:
    """Every message of one archive, in archive order, with its threading evidence."""
    folder = require_archive(name)
    rows = [json.loads(line) for line in (folder / "index.jsonl").read_text().splitlines()]
    rows.sort(key=lambda row: row["archive_seq"])
    out = []
    parser = BytesHeaderParser()
    for row in rows:
        path = folder / row["file"]
        raw = path.read_bytes()
        head = parser.parsebytes(raw)
        message_id = (_ID.findall(str(head.get("Message-ID", ""))) or [f"<{path.stem}@corpus>"])[0]
        irt = _ID.findall(str(head.get("In-Reply-To", "")))
        refs = _ID.findall(" ".join(str(v) for v in head.get_all("References", [])))
        ev = evidence(message_id=message_id, in_reply_to=irt, references=refs,
                      subject=_text(head, "Subject"), date=_date(head),
                      thread_index=head.get("Thread-Index"),
                      thread_topic=_text(head, "Thread-Topic") or None, project_code=None)
        out.append(CorpusMessage(path.name, raw, ev, tuple(irt + refs), row.get("component")))
    return tuple(out)


def partition(groups: Iterable[Iterable[str]]) -> list[frozenset[str]]:
    return sorted((frozenset(g) for g in groups), key=sorted)


def header_truth(mail: Iterable[CorpusMessage]) -> list[frozenset[str]]:
    """Connected components over Message-ID, In-Reply-To and References (no cap, no subject)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    own = []
    for m in mail:
        me = find(m.evidence.message_id)
        own.append(m.evidence.message_id)
        for ref in m.header_ids:
            parent[find(normalize_message_id(ref))] = me
    groups: dict[str, set[str]] = {}
    for mid in own:
        groups.setdefault(find(mid), set()).add(mid)
    return partition(groups.values())
