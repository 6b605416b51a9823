"""``commgate records list|show|export``: what a project manager reads, and what scripts read."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from gateway.records.query import RecordFilter, record_views

records_app = typer.Typer(no_args_is_help=True, help="Communication records (沟通记录).")

CSV_FIELDS = ("id", "project", "thread_id", "created_at", "subject", "category",
              "stakeholder_group", "formality", "urgency", "receipt_required", "receipts",
              "message_ids", "summary", "conclusion")

Project = Annotated[str, typer.Option("--project", "-p", help="Project code.")]
Category = Annotated[str | None, typer.Option(help="Only this category.")]
Group = Annotated[str | None, typer.Option(help="Only this stakeholder group.")]
Since = Annotated[datetime | None, typer.Option(help="Created at or after (ISO date/time).")]
Until = Annotated[datetime | None, typer.Option(help="Created before (ISO date/time).")]
Unconfirmed = Annotated[bool, typer.Option(help="Only records with unconfirmed receipts.")]


def _filter(ctx: typer.Context, project: str, category: str | None, group: str | None,
            since: datetime | None, until: datetime | None, unconfirmed: bool) -> RecordFilter:
    from gateway.cli import guarded, settings_of

    settings = settings_of(ctx)
    tz = guarded(ctx, lambda: settings.project(project)).zone
    return RecordFilter(project=project, category=category, group=group,
                        since=since.replace(tzinfo=since.tzinfo or tz) if since else None,
                        until=until.replace(tzinfo=until.tzinfo or tz) if until else None,
                        unconfirmed=unconfirmed)


def _views(ctx: typer.Context, f: RecordFilter) -> list[dict[str, Any]]:
    from gateway.cli import open_app
    from gateway.store.db import unit_of_work

    gw = open_app(ctx)
    try:
        with unit_of_work(gw.sessions) as session:
            return record_views(session, f)
    finally:
        gw.close()


def _receipts_summary(view: dict[str, Any]) -> str:
    receipts = view["receipts"]
    if not receipts:
        return "-"
    done = sum(1 for r in receipts if r["status"] == "confirmed")
    return f"{done}/{len(receipts)}"


@records_app.command("list")
def list_records(ctx: typer.Context, project: Project, category: Category = None,
                 group: Group = None, since: Since = None, until: Until = None,
                 unconfirmed: Unconfirmed = False,
                 as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
                 ) -> None:
    """List a project's records, oldest first."""
    views = _views(ctx, _filter(ctx, project, category, group, since, until, unconfirmed))
    if as_json:
        typer.echo(json.dumps(views, ensure_ascii=False, indent=2))
        return
    if not views:
        typer.echo(f"no records in project {project}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{project}: {len(views)} record(s)")
    for col in ("id", "created", "category", "group", "formality", "receipts", "msgs",
                "subject"):
        table.add_column(col, overflow="fold")
    for v in views:
        table.add_row(str(v["id"]), v["created_at"][:16].replace("T", " "), v["category"],
                      v["stakeholder_group"], v["formality"], _receipts_summary(v),
                      str(v["message_count"]), v["subject"])
    Console(width=max(120, Console().width)).print(table)


@records_app.command("show")
def show_record(ctx: typer.Context, record_id: int, project: Project,
                as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Show one record with its receipts and messages."""
    from gateway.cli import fail

    views = [v for v in _views(ctx, _filter(ctx, project, None, None, None, None, False))
             if v["id"] == record_id]
    if not views:
        raise fail(f"no record {record_id} in project {project}")
    v = views[0]
    if as_json:
        typer.echo(json.dumps(v, ensure_ascii=False, indent=2))
        return
    for key in ("id", "subject", "category", "stakeholder_group", "formality", "urgency",
                "receipt_required", "created_at", "updated_at", "summary", "conclusion"):
        typer.echo(f"{key:18} {v[key]}")
    typer.echo("parties            " + ", ".join(p["address"] for p in v["parties"]))
    for r in v["receipts"]:
        typer.echo(f"receipt            {r['recipient']}: {r['status']}")
    for mid in v["message_ids"]:
        typer.echo(f"message            <{mid}>")
    for reason in v["reasons"]:
        typer.echo(f"reason             {reason}")


def write_export(views: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
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
            row = dict(v)
            row["receipts"] = "; ".join(f"{r['recipient']}={r['status']}" for r in v["receipts"])
            row["message_ids"] = " ".join(v["message_ids"])
            writer.writerow([row[f] if row[f] is not None else "" for f in CSV_FIELDS])


@records_app.command("export")
def export_records(ctx: typer.Context, project: Project,
                   fmt: Annotated[str, typer.Option("--format", help="jsonl, json or csv.")
                                  ] = "jsonl",
                   out: Annotated[Path | None, typer.Option(help="File (default stdout).")
                                  ] = None,
                   category: Category = None, group: Group = None, since: Since = None,
                   until: Until = None, unconfirmed: Unconfirmed = False) -> None:
    """Export records as JSON Lines, JSON or CSV (CSV files get a BOM so Excel reads Chinese)."""
    from gateway.cli import fail

    if fmt not in ("jsonl", "json", "csv"):
        raise fail(f"unknown format {fmt!r}: use jsonl, json or csv")
    views = _views(ctx, _filter(ctx, project, category, group, since, until, unconfirmed))
    if out is None:
        write_export(views, fmt, sys.stdout)
        return
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    with out.open("w", encoding=encoding, newline="") as fh:
        write_export(views, fmt, fh)
    typer.echo(f"wrote {len(views)} record(s) to {out}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(records_app, name="records")
