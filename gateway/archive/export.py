"""``commgate archive export``: one zip holding everything a project communicated, streamed.

Layout (all paths relative, names UTF-8)::

    index.html                 browsable overview (zh-CN or en, offline)
    archive.json               what this is: project, time covered, counts, audit chain head
    messages/<id>.eml          every stored message, the raw bytes exactly as received
    attachments/<id>/<name>    each attachment, re-parsed from the raw bytes, name sanitised
    messages.jsonl             one line per message: what we stored, its file, attachments
    records.jsonl, records.csv the records export (gateway/records; CSV with BOM for Excel)
    records/<id>.html          the key communication record form (关键沟通记录表) per record
    sent/<id>.eml, sent.jsonl  mail the gateway sent: notices, reports, reminders
    audit.jsonl                the audit trail up to the export, hash chain intact
    MANIFEST.sha256            sha256sum format, every file above
    MANIFEST.sig               HMAC-SHA256 of the manifest and the audit head (signature.py)

Memory stays bounded whatever the project's size: rows come in batches (``yield_per``), each
entry is streamed into the zip, one message is in memory at a time, and the lists the index
needs are spooled to temporary files. Everything received up to the export's clock reading is
included (``covers_until``, which retention relies on); on PostgreSQL the export reads one
REPEATABLE READ snapshot. Written to ``.<name>.part`` and renamed: no half archive survives.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.archive import pages, signature
from gateway.archive.messages import write_messages, write_sent
from gateway.archive.records import write_records
from gateway.archive.zipstream import CHUNK, ArchiveWriter
from gateway.audit.anchor import Anchor, append
from gateway.audit.chain import head_of, project_entries, record_event
from gateway.config.settings import ProjectConfig
from gateway.errors import ArchiveError
from gateway.store.audit_models import ArchiveExport
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Record

if TYPE_CHECKING:
    from gateway.app import App

Progress = Callable[[str, int, int], None]  # (phase, done, total)
FORMAT = "commgate-archive/1"


@dataclass
class ExportResult:
    path: Path
    sha256: str
    size: int
    messages: int
    records: int
    attachments: int
    sent: int
    audit_seq: int
    covers_until: datetime
    archive_id: int = 0
    audit_hash: str = ""  # the chain head the archive holds (an anchor outside the database)
    problems: list[str] = field(default_factory=list)


def _spool() -> IO[str]:
    return tempfile.TemporaryFile(mode="w+", encoding="utf-8", newline="")


def _lines(spool: IO[str]) -> Iterator[dict[str, Any]]:
    spool.seek(0)
    for line in spool:
        yield json.loads(line)


def _chunks(spool: IO[str], *, bom: bool = False) -> Iterator[bytes]:
    spool.seek(0)
    if bom:
        yield "\ufeff".encode()
    while block := spool.read(CHUNK):
        yield block.encode("utf-8")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


class _Counter:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress("export", self.done, self.total)


def _snapshot(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _minutes(records: IO[str]) -> Iterator[dict[str, Any]]:
    return (r for r in _lines(records) if r["category"] in ("meeting_minutes", "report"))


def write_archive(app: App, session: Session, project: ProjectConfig, target: Path, *,
                  now: datetime, progress: Progress | None = None) -> ExportResult:
    """Write the zip at ``target`` from ``session``'s view of the project (no commit)."""
    pid = app.project_ids[project.code]
    _snapshot(session)
    seq, chain_hash = head_of(session, pid)
    total = (session.scalar(select(func.count()).select_from(Message).where(
        Message.project_id == pid, Message.received_at <= now)) or 0) + (session.scalar(
            select(func.count()).select_from(Record).where(Record.project_id == pid)) or 0)
    tick = _Counter(progress, total)
    problems: list[str] = []
    writer = ArchiveWriter(target, when=now.astimezone(project.zone))
    with _spool() as msgs, _spool() as sent, _spool() as jsonl, _spool() as csv, \
            _spool() as index:
        try:
            n_msgs, n_atts = write_messages(session, writer, app.raw, msgs, project_id=pid,
                                            until=now, problems=problems, tick=tick)
            n_recs = write_records(session, writer, jsonl, csv, index, project=project,
                                   project_id=pid, raw=app.raw, now=now, tick=tick)
            n_sent = write_sent(session, writer, sent, project_id=pid, until=now)
            with writer.text("audit.jsonl") as out:
                for entry in project_entries(session, pid, upto_seq=seq):
                    out.write(json.dumps(entry, ensure_ascii=False) + "\n")
            writer.add_chunks("messages.jsonl", _chunks(msgs))
            writer.add_chunks("records.jsonl", _chunks(jsonl))
            writer.add_chunks("records.csv", _chunks(csv, bom=True))  # Excel needs the BOM
            writer.add_chunks("sent.jsonl", _chunks(sent))
            counts = {"messages": n_msgs, "records": n_recs, "attachments": n_atts,
                      "sent": n_sent, "audit": seq}
            about = {"format": FORMAT, "project": project.code, "name": project.name,
                     "created_at": now.isoformat(), "covers_until": now.isoformat(),
                     "retention_years": project.retention_years, "counts": counts,
                     "audit": {"project_id": pid, "seq": seq, "hash": chain_hash},
                     "problems": problems}
            writer.add_bytes("archive.json", json.dumps(about, ensure_ascii=False,
                                                        indent=2).encode("utf-8"))
            page = pages.stream("index", lang=project.language, context={
                "project": project, "zone": project.timezone, "created_at": now,
                "counts": counts, "audit_hash": chain_hash, "problems": problems,
                "records": _lines(index), "minutes": _minutes(index), "sent": _lines(sent),
                "messages": _lines(msgs)})
            writer.add_chunks("index.html", (chunk.encode("utf-8") for chunk in page))
            head = {"project_id": pid, "seq": seq, "hash": chain_hash}
            writer.close(sign=lambda manifest: (signature.SIGNATURE, signature.sign(
                app.settings.secret_key, manifest_sha256=manifest, project=project.code,
                audit=head)))
        except BaseException:
            writer.abort()
            raise
    size = target.stat().st_size
    return ExportResult(path=target, sha256=file_sha256(target), size=size, messages=n_msgs,
                        records=n_recs, attachments=n_atts, sent=n_sent, audit_seq=seq,
                        covers_until=now, problems=problems, audit_hash=chain_hash)


def export_project(app: App, code: str, out: Path, *, kind: str = "manual", actor: str,
                   progress: Progress | None = None) -> ExportResult:
    """Export project ``code`` to ``out`` and record the export (row + audit event)."""
    project = app.settings.project(code)
    now = app.clock()
    out = out.resolve()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ArchiveError(f"cannot create {out.parent}: {exc.strerror or exc}") from None
    part = out.with_name(f".{out.name}.part")
    try:
        # 0600 from the first byte: the whole project's mail and records, its owner's only.
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.chmod(part, 0o600)
        with unit_of_work(app.sessions) as session:
            result = write_archive(app, session, project, part, now=now, progress=progress)
        os.replace(part, out)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise ArchiveError(f"cannot write {out}: {exc.strerror or exc}",
                           hint="check free space and permissions") from None
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    result.path = out
    with unit_of_work(app.sessions) as session:
        row = ArchiveExport(project_id=app.project_ids[code], kind=kind, path=str(out),
                            sha256=result.sha256, size=result.size, messages=result.messages,
                            records=result.records, audit_seq=result.audit_seq,
                            covers_until=now, actor=actor, created_at=app.clock())
        session.add(row)
        session.flush()
        record_event(session, project_id=row.project_id, actor=actor, action="archive.export",
                     subject_type="archive", subject_id=row.id,
                     after={"kind": kind, "path": str(out), "sha256": result.sha256,
                            "size": result.size, "messages": result.messages,
                            "records": result.records, "covers_until": now,
                            "problems": len(result.problems)}, now=app.clock())
        result.archive_id = row.id
    # The head the archive holds is an anchor too: the anchors file gets it (a rollback of the
    # database below it then shows in `audit verify`, as it would against the archive itself).

    if result.audit_seq > 0:
        try:
            append(app.settings, [Anchor(
                at=now.astimezone(UTC).isoformat(timespec="seconds"), project=code,
                project_id=app.project_ids[code], seq=result.audit_seq, hash=result.audit_hash,
                reason=f"archive {kind} #{result.archive_id}")])
        except OSError as exc:  # the archive is written and recorded; it carries the head
            result.problems.append(f"audit anchor not written: {exc.strerror or exc}")
    return result
