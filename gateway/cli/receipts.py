"""CLI for receipts and escalation: ``receipts list``, ``tick`` and ``scheduler``.

``receipts list`` narrows by ``--status``, ``--record``, ``--recipient``, ``--needs-review`` and
``--overdue``; it prints a header row, or with ``--json`` the rows of gateway/receipts/query.py.
What a person settles (``receipts set|waive|extend|remind|withdraw|show``) lives in
gateway/cli/receipts_manual.py.

``commgate tick [--now T] [--dry-run] [--project CODE]`` runs one scheduler pass as if at ``T``
(ISO 8601; a time without offset is read in the project's zone, else Asia/Shanghai); the mails
it queues wait in the outbox for a running ``serve`` or worker to deliver. ``--dry-run`` prints
what would be queued and stores nothing. ``commgate scheduler`` runs passes forever
(production, beside ``serve`` front ends and workers; several may run at once).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from gateway.app import App
from gateway.cli import receipts_manual
from gateway.cli.common import (
    choose,
    guarded,
    open_app,
    print_rows,
    project_of,
    wait_for_signal,
)
from gateway.cli.options import AnyProject, AsJsonList, Project, parse_now
from gateway.connectors.outbox import report_unconfigured
from gateway.jobs.scheduler import tick
from gateway.receipts.query import list_receipts
from gateway.receipts.states import ReceiptStatus
from gateway.store.db import unit_of_work

receipts_app = typer.Typer(no_args_is_help=True, help="Receipt confirmation (policy 4.3).")
STATUSES = tuple(s.value for s in ReceiptStatus)


def _zone(gw: App, project: str | None) -> ZoneInfo:
    if project:
        return ZoneInfo(gw.settings.project(project).timezone)
    return ZoneInfo("Asia/Shanghai")


@receipts_app.command("list")
def list_command(
        ctx: typer.Context,
        project: Project,
        overdue: Annotated[bool, typer.Option("--overdue", help="Only open, past due.")] = False,
        status: Annotated[str | None, typer.Option(
            "--status", help="Only this status: " + " | ".join(STATUSES) + ".")] = None,
        record: Annotated[int | None, typer.Option("--record", "-r",
                                                   help="Only this record.")] = None,
        recipient: Annotated[str | None, typer.Option("--recipient",
                                                      help="Only this recipient.")] = None,
        needs_review: Annotated[bool, typer.Option(
            "--needs-review", help="Only replies nobody could read, waiting for a person.")
        ] = False,
        as_json: AsJsonList = False,
        now: Annotated[str | None, typer.Option("--now", help="Judge overdue as of.")] = None,
) -> None:
    """List receipts: who still owes a confirmation, by when, at which escalation level."""
    choose("--status", status.strip().lower() if status else None, STATUSES)
    gw = open_app(ctx)
    try:
        cfg = project_of(ctx, gw, project)
        at = parse_now(now, cfg.zone) or gw.clock()
        with unit_of_work(gw.sessions) as session:
            rows = list_receipts(session, project_id=gw.project_ids[cfg.code], zone=cfg.zone,
                                 now=at, overdue_only=overdue,
                                 status=status.strip().lower() if status else None,
                                 record_id=record, recipient=recipient,
                                 needs_review=needs_review)
    finally:
        gw.close()
    empty = "没有回执 no receipts" + (" overdue" if overdue else "")
    print_rows(rows, as_json=as_json, empty=empty,
               header=f"{'RECORD':<7} {'STATUS':<10} {'LVL':<3} {'RECIPIENT':<32} {'DUE':<16} "
                      f"{'FLAGS':<14} SUBJECT", line=_receipt_line)


def _receipt_line(r: dict[str, Any]) -> str:
    flags = ",".join(f for f, on in (("OVERDUE", r["overdue"]),
                                      ("REVIEW", r["needs_review"]),
                                      ("WITHDRAWN", r["withdrawn"])) if on) or "-"
    return (f"R{r['record_id']:<6} {r['status']:<10} L{r['level']:<2} "
            f"{r['recipient']:<32} {(r['deadline'] or '-')[:16]:<16} {flags:<14} "
            f"{r['subject'][:40]}")


def tick_command(
        ctx: typer.Context,
        now: Annotated[str | None, typer.Option("--now", help="Run as if at this time.")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print, queue nothing.")] = False,
        project: AnyProject = None,
) -> None:
    """Run one scheduler pass: reminders and escalations that are due."""
    gw = open_app(ctx)
    try:
        at = parse_now(now, _zone(gw, project))
        report = guarded(ctx, lambda: tick(gw, now=at, project=project, dry_run=dry_run))
    finally:
        gw.close()
    verb = "would queue" if dry_run else "queued"
    for mail in report.mails:
        typer.echo(f"{verb} {mail.kind:<10} {mail.key:<34} to {', '.join(mail.recipients)}: "
                   f"{mail.message['Subject']}")
    for event in report.events:
        typer.echo(f"event {event}")
    typer.echo(f"tick {report.now.isoformat()}: {report.requests} request(s) due, "
               f"{len(report.mails)} mail(s) {verb}" + (" (dry run)" if dry_run else "")
               + (f", {report.failed} failed" if report.failed else ""))
    if report.failed:
        raise typer.Exit(1)


def scheduler_command(
        ctx: typer.Context,
        interval: Annotated[float, typer.Option(help="Seconds between passes.")] = 30.0,
) -> None:
    """Run scheduler passes forever (production); several schedulers may run at once."""
    # Loaded by the commands that run it: the service stack (aiosmtpd, dramatiq, imapclient,
    # prometheus) at module level would slow every command's start, `commgate --help` too.
    from gateway.jobs.periodic import run_forever
    from gateway.runtime.ops import start_role_ops

    gw = open_app(ctx, service=True)
    report_unconfigured(gw.settings)  # once at start, not on every pass
    ops = guarded(ctx, lambda: start_role_ops(gw, "scheduler"))
    stop = threading.Event()
    worker = threading.Thread(target=run_forever, args=(gw,),
                              kwargs={"interval": interval, "stop": stop},
                              name="commgate-scheduler", daemon=True)
    worker.start()
    where = f" Metrics on {ops.url}/metrics." if ops is not None else ""
    typer.echo(f"commgate scheduler: a pass every {interval:.0f} s.{where} Ctrl-C stops.",
               err=True)
    try:
        wait_for_signal()
    finally:
        stop.set()
        worker.join(timeout=60)
        if ops is not None:
            ops.stop()
        gw.close()


def register(app: typer.Typer) -> None:
    receipts_manual.register(receipts_app)  # set|waive|extend|remind|withdraw|show
    app.add_typer(receipts_app, name="receipts")
    app.command("tick")(tick_command)
    app.command("scheduler")(scheduler_command)
