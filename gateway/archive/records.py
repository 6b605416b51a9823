"""The archive's records: ``records.jsonl`` and ``records.csv`` in the ``records export`` shape
(gateway/records/query.py views, gateway/records/export.py writer), and one key communication
record form (关键沟通记录表, policy attachment 3) per record under ``records/<id>.html``.

Records are read in batches of :data:`BATCH`; each batch's views are written and dropped. The
form is gateway/records/forms.py's, as ``records form`` renders it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import IO, Any, TextIO, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from gateway.archive.zipstream import ArchiveWriter
from gateway.config.settings import ProjectConfig
from gateway.records.export import write_export
from gateway.records.forms import render_record_form
from gateway.records.query import (
    attachment_names,
    message_ids_by_record,
    record_details,
    record_view,
)
from gateway.store.models import Record
from gateway.store.raw import RawStore

BATCH = 200
Tick = Callable[[int], None]


def _views(session: Session, records: Sequence[Record], code: str,
           zone: ZoneInfo | None = None) -> list[dict[str, Any]]:
    """The ``records export`` view of a batch (the same fields as ``record_views``)."""
    ids = [r.id for r in records]
    messages = message_ids_by_record(session, ids)
    names = attachment_names(session, ids)
    return [{**record_view(r, code, messages.get(r.id, []), zone),
             "attachments": names.get(r.id, [])} for r in records]


def _form(session: Session, view: dict[str, Any], project: ProjectConfig, raw: RawStore,
          now: datetime) -> str:
    # Findings from what the parse stage stored (raw=None): re-parsing every message a second
    # time would double the export's cost for the same answer.
    details = record_details(session, view["id"], project, now=now, raw=None)
    return render_record_form(view, details, project, lang=project.language, fmt="html",
                              now=now)


def _csv_rows(views: list[dict[str, Any]], *, header: bool) -> str:
    buffer = io.StringIO(newline="")
    write_export(views, "csv", buffer)
    text = buffer.getvalue()
    # write_export starts each call with the header row; later batches drop it (the header
    # holds no quoted newline, so the first CRLF ends it).
    return text if header else text.split("\r\n", 1)[1]


def write_records(session: Session, writer: ArchiveWriter, jsonl: IO[str], csv: IO[str],
                  index: IO[str], *, project: ProjectConfig, project_id: int,
                  raw: RawStore, now: datetime, tick: Tick) -> int:
    """Forms into the zip; JSONL, CSV and index lines into their spools. Records written."""
    # Every record there is: created_at comes from the mail's Date header (sender clocks skew),
    # so it is no cut-off; the messages (our clock) are.
    q = (select(Record).where(Record.project_id == project_id)
         .options(selectinload(Record.receipts)).order_by(Record.created_at, Record.id)
         .execution_options(yield_per=BATCH))
    count = 0
    for batch in session.scalars(q).partitions():
        views = _views(session, batch, project.code, project.zone)  # times as people read them
        write_export(views, "jsonl", cast(TextIO, jsonl))
        csv.write(_csv_rows(views, header=count == 0))
        for view in views:
            page = f"records/{view['id']}.html"
            writer.add_bytes(page, _form(session, view, project, raw, now).encode("utf-8"))
            index.write(json.dumps({
                "id": view["id"], "page": page, "subject": view["subject"],
                "category": view["category"], "stakeholder_group": view["stakeholder_group"],
                "formality": view["formality"], "created_at": view["created_at"],
                "message_count": view["message_count"], "conclusion": view["conclusion"]},
                ensure_ascii=False) + "\n")
        count += len(views)
        tick(len(views))  # the batch is dropped here; the identity map holds rows weakly
    if count == 0:
        csv.write(_csv_rows([], header=True))
    return count
