"""The records export writer: record views as JSON Lines, JSON or CSV.

``commgate records export`` (gateway/cli/records.py) writes a project's records with it, and
the handover archive (gateway/archive/records.py) writes ``records.jsonl`` and ``records.csv``
with it, so both share one shape: the field names of :func:`gateway.records.query.record_view`
(public: never rename one) and, for CSV, the column order of :data:`CSV_FIELDS`.
"""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

FORMATS = ("jsonl", "json", "csv")

CSV_FIELDS = ("id", "project", "thread_id", "created_at", "subject", "category",
              "stakeholder_group", "formality", "urgency", "receipt_required", "receipts",
              "message_ids", "summary", "conclusion",
              # added after the first release: new columns go at the end
              "updated_at", "parties", "attachments", "conclusion_by", "conclusion_at")


def _csv_row(view: dict[str, Any]) -> list[Any]:
    """One view as a CSV row: lists joined into one readable cell each, None as empty."""
    row = dict(view)
    row["receipts"] = "; ".join(f"{r['recipient']}={r['status']}" for r in view["receipts"])
    row["message_ids"] = " ".join(view["message_ids"])
    row["parties"] = "; ".join(
        f"{p.get('name') or ''} <{p['address']}>"
        + (f" ({p['group']})" if p.get("group") else "") for p in view["parties"])
    row["attachments"] = "; ".join(view.get("attachments", []))
    return [row[f] if row[f] is not None else "" for f in CSV_FIELDS]


def write_export(views: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """Write ``views`` to ``out`` as ``fmt`` (one of :data:`FORMATS`; CSV starts with its
    header row on every call)."""
    if fmt == "jsonl":
        for v in views:
            out.write(json.dumps(v, ensure_ascii=False) + "\n")
    elif fmt == "json":
        json.dump(views, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        writer = csv.writer(out)
        writer.writerow(CSV_FIELDS)
        for v in views:
            writer.writerow(_csv_row(v))
