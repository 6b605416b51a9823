"""``commgate records list|show|export|search|conclude|reclassify|form|reindex``: what a
project manager reads and does with records, and what scripts read. Domain work lives in
gateway/records/ (query, store, edit, reclassify); this module is the command-line layer.

``show --json``, ``list --json`` and ``export`` share the field names of
:func:`gateway.records.query.record_view` (public: never rename one); ``show`` adds the record's
messages, attachment files and compliance findings.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from gateway.cli import record_edits
from gateway.cli.common import choose, fail, guarded, open_app, print_json, settings_of
from gateway.cli.options import AsJson, Project
from gateway.config.people import labelled, person_name
from gateway.config.settings import ProjectConfig
from gateway.records.export import FORMATS, write_export
from gateway.records.forms import form_language, render_record_form
from gateway.records.query import RecordFilter, find_records, record_details, record_views
from gateway.records.search import index_record, search_records
from gateway.records.store import named_parties
from gateway.store.db import unit_of_work
from gateway.store.states import CATEGORIES, GROUPS

records_app = typer.Typer(no_args_is_help=True, help="Communication records (沟通记录).")

Category = Annotated[str | None, typer.Option(
    help="Only this category: " + ", ".join(CATEGORIES) + ".")]
Group = Annotated[str | None, typer.Option(
    help="Only this stakeholder group: " + ", ".join(GROUPS) + ".")]
Since = Annotated[datetime | None, typer.Option(help="Created at or after (ISO date/time).")]
Until = Annotated[datetime | None, typer.Option(help="Created before (ISO date/time).")]
Unconfirmed = Annotated[bool, typer.Option(help="Only records with unconfirmed receipts.")]


def _filter(ctx: typer.Context, project: str, category: str | None, group: str | None,
            since: datetime | None, until: datetime | None, unconfirmed: bool) -> RecordFilter:
    choose("--category", category, CATEGORIES)
    choose("--group", group, GROUPS)
    settings = settings_of(ctx)
    tz = guarded(ctx, lambda: settings.project(project)).zone
    return RecordFilter(project=project, category=category, group=group,
                        since=since.replace(tzinfo=since.tzinfo or tz) if since else None,
                        until=until.replace(tzinfo=until.tzinfo or tz) if until else None,
                        unconfirmed=unconfirmed)


def _views(ctx: typer.Context, f: RecordFilter) -> list[dict[str, Any]]:
    gw = open_app(ctx)
    try:
        config = gw.settings.project(f.project)
        with unit_of_work(gw.sessions) as session:
            return _readable(record_views(session, f, config.zone), config)
    finally:
        gw.close()


def _readable(views: list[dict[str, Any]], config: ProjectConfig) -> list[dict[str, Any]]:
    """Parties named as the project file names them (times are already the project's)."""
    return [{**v, "parties": named_parties(config, v["parties"])} for v in views]


def _receipts_summary(view: dict[str, Any]) -> str:
    receipts = view["receipts"]
    if not receipts:
        return "-"
    done = sum(1 for r in receipts if r["status"] == "confirmed")
    return f"{done}/{len(receipts)}"


def list_records(ctx: typer.Context, project: Project, category: Category = None,
                 group: Group = None, since: Since = None, until: Until = None,
                 unconfirmed: Unconfirmed = False,
                 as_json: AsJson = False,
                 ) -> None:
    """List a project's records, oldest first."""
    views = _views(ctx, _filter(ctx, project, category, group, since, until, unconfirmed))
    if as_json:
        print_json(views)
        return
    if not views:
        typer.echo(f"no records in project {project}")
        return

    zone = settings_of(ctx).project(project).zone
    table = Table(title=f"{project}: {len(views)} record(s), times in {zone.key}")
    for col in ("id", "created", "category", "group", "formality", "receipts", "msgs",
                "subject"):
        table.add_column(col, overflow="fold")
    for v in views:
        created = datetime.fromisoformat(v["created_at"]).astimezone(zone)
        table.add_row(str(v["id"]), created.strftime("%Y-%m-%d %H:%M"), v["category"],
                      v["stakeholder_group"], v["formality"], _receipts_summary(v),
                      str(v["message_count"]), v["subject"])
    Console(width=max(120, Console().width)).print(table)


def _one(ctx: typer.Context, project: str,
         record_id: int) -> tuple[dict[str, Any], ProjectConfig, datetime]:
    """(view + details, project config, now) of one record, or exit 2 naming what is missing."""
    gw = open_app(ctx)
    try:
        config = guarded(ctx, lambda: gw.settings.project(project))
        now = gw.clock()
        with unit_of_work(gw.sessions) as session:
            views = _readable(record_views(session, RecordFilter(
                project=project, record_id=record_id), config.zone), config)
            if not views:
                raise fail(f"no record {record_id} in project {project}")
            details = record_details(session, record_id, config, now=now, raw=gw.raw.get)
        return {**views[0], **details}, config, now
    finally:
        gw.close()


def show_record(ctx: typer.Context, record_id: int, project: Project,
                as_json: AsJson = False
                ) -> None:
    """Show one record with its parties, receipts, messages, attachments and findings."""
    v, config, _now = _one(ctx, project, record_id)
    if as_json:
        print_json(v)
        return
    for key in ("id", "subject", "category", "stakeholder_group", "formality", "urgency",
                "receipt_required", "created_at", "updated_at", "summary", "conclusion",
                "conclusion_by"):
        typer.echo(f"{key:18} {v[key]}")
    for p in v["parties"]:
        typer.echo(f"party              {p.get('name') or ''} <{p['address']}> "
                   f"{p.get('group') or ''}".rstrip())
    for r in v["receipts"]:
        name = person_name(config, r["recipient"])
        who = f"{name} <{r['recipient']}>" if name else r["recipient"]
        typer.echo(f"receipt            {who}: {r['status']}")
    for m in v["messages"]:
        who = labelled(config, m["from"] or "", m["from_name"] or "")
        typer.echo(f"message            {m['sent_at'][:16]} {who} <{m['message_id']}>")
    for a in v["attachment_files"]:
        typer.echo(f"attachment         {a['filename']} ({a['size']} bytes)")
    for f in v["findings"]:
        typer.echo(f"finding            [{f['clause']}] {f['code']}: {f['message_en']}")
    for h in v["history"]:
        typer.echo(f"history            {json.dumps(h, ensure_ascii=False)}")
    for reason in v["reasons"]:
        typer.echo(f"reason             {reason}")


def search_command(ctx: typer.Context, query: str, project: Project,
                   limit: Annotated[int, typer.Option(
                       min=1, max=500, help="At most this many hits.")] = 20,
                   as_json: AsJson = False
                   ) -> None:
    """Find records by words in subjects, message text and attachment names, best first."""
    gw = open_app(ctx)
    try:
        zone = guarded(ctx, lambda: gw.settings.project(project)).zone
        project_id = gw.project_ids[project]
        with unit_of_work(gw.sessions) as session:
            hits = guarded(ctx, lambda: search_records(session, project_id=project_id,
                                                       query=query, limit=limit))
    finally:
        gw.close()
    if as_json:
        print_json([h.as_dict(zone) for h in hits])
        return
    if not hits:
        typer.echo(f"no records in project {project} match {query!r}")
    for h in hits:
        typer.echo(f"{h.rank:>3}. #{h.record_id} {h.created_at.astimezone(zone).date()} "
                   f"[{h.category}] "
                   f"{h.subject}\n     {h.snippet}")


def form_command(ctx: typer.Context, record_id: int, project: Project,
                 lang: Annotated[str | None, typer.Option(
                     help="zh-CN or en (default: the project's language).")] = None,
                 out: Annotated[Path | None, typer.Option(
                     help="FILE.html or FILE.txt (default: text on stdout).")] = None) -> None:
    """Render the key communication record form (关键沟通记录表) of one record."""
    fmt = "html" if out is not None and out.suffix.lower() in (".html", ".htm") else "txt"
    if out is not None and fmt == "txt" and out.suffix.lower() != ".txt":
        raise fail(f"--out {out}: use a .html or .txt file")
    view, config, now = _one(ctx, project, record_id)
    try:
        language = form_language(lang, config)
    except ValueError as exc:
        raise fail(str(exc)) from None
    rendered = render_record_form(view, view, config, lang=language, fmt=fmt, now=now)
    if out is None:
        typer.echo(rendered, nl=False)
        return
    out.write_text(rendered, encoding="utf-8")
    typer.echo(f"wrote {out}", err=True)


def reindex_command(ctx: typer.Context, project: Project) -> None:
    """Rebuild the search index of a project's records (after `db upgrade` adds it)."""
    gw = open_app(ctx)
    count = 0
    try:
        guarded(ctx, lambda: gw.settings.project(project))
        with unit_of_work(gw.sessions) as session:
            for record in find_records(session, RecordFilter(project=project)):
                count += index_record(session, record, now=gw.clock())
    finally:
        gw.close()
    typer.echo(f"reindexed {count} record(s) of project {project}")


def export_records(ctx: typer.Context, project: Project,
                   fmt: Annotated[str, typer.Option("--format", help="jsonl, json or csv.")
                                  ] = "jsonl",
                   out: Annotated[Path | None, typer.Option(help="File (default stdout).")
                                  ] = None,
                   category: Category = None, group: Group = None, since: Since = None,
                   until: Until = None, unconfirmed: Unconfirmed = False) -> None:
    """Export records as JSON Lines, JSON or CSV (CSV files get a BOM so Excel reads Chinese)."""
    choose("--format", fmt, FORMATS)
    views = _views(ctx, _filter(ctx, project, category, group, since, until, unconfirmed))
    if out is None:
        write_export(views, fmt, sys.stdout)
        return
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    with out.open("w", encoding=encoding, newline="") as fh:
        write_export(views, fmt, fh)
    typer.echo(f"wrote {len(views)} record(s) to {out}", err=True)


def register(app: typer.Typer) -> None:
    # In the order ``commgate records --help`` lists them; conclude and reclassify live in
    # gateway/cli/record_edits.py.
    for name, command in (("list", list_records), ("show", show_record),
                          ("conclude", record_edits.conclude_record),
                          ("reclassify", record_edits.reclassify_command),
                          ("search", search_command), ("form", form_command),
                          ("reindex", reindex_command), ("export", export_records)):
        records_app.command(name)(command)
    app.add_typer(records_app, name="records")
