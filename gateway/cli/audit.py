"""Commands for traceable records: ``audit verify``, ``purge``, ``archive export|verify``,
``project close|reopen|list`` (domain work in gateway/archive/, gateway/archive/project_state.py).

Exit status: 0 fine; 1 a check found a problem (``audit verify``, ``archive verify``); 2 the
command was refused or misused (a purge inside retention, no archive, legal hold, bad config).
"""

from __future__ import annotations

import getpass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from gateway.addresses import try_normalize
from gateway.archive.export import export_project
from gateway.archive.handover import close_project
from gateway.archive.project_state import ProjectRow, project_rows, reopen
from gateway.archive.retention import execute_purge, plan_purge, remove_unshared_raw
from gateway.archive.verify import verify_archive
from gateway.audit.verify import adopt_project, verify_project
from gateway.cli.common import fail, guarded, open_app, print_json
from gateway.config.settings import load_settings
from gateway.errors import GatewayError
from gateway.store.db import unit_of_work

audit_app = typer.Typer(no_args_is_help=True, help="Audit trail (审计日志).")
archive_app = typer.Typer(no_args_is_help=True, help="Project archives (归档).")
project_app = typer.Typer(no_args_is_help=True, help="Project life cycle.")

ProjectOpt = Annotated[str, typer.Option("--project", "-p", help="Project code.")]


def actor() -> str:
    """Who runs the command, for the audit trail."""
    try:
        return f"user:{getpass.getuser()}"
    except (KeyError, OSError):
        return "user:unknown"


def _progress() -> Any:
    return Progress("[progress.description]{task.description}", BarColumn(),
                    MofNCompleteColumn(), TimeRemainingColumn(), transient=True)


def _with_progress(label: str, body: Any) -> Any:
    with _progress() as bar:
        task = bar.add_task(label, total=None)

        def report(_phase: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return body(report)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, project: ProjectOpt,
                 anchor: Annotated[bool, typer.Option(
                     "--anchor", help="When intact, append the verified chain head to "
                                      "<data_dir>/audit-anchors.log.")] = False) -> None:
    """Check the audit hash chain, replay it against the rows, check the anchors and every
    stored raw message's SHA-256 (exit 1 on any finding)."""
    gw = open_app(ctx)
    try:
        report = guarded(ctx, lambda: verify_project(gw, project, anchor=anchor))
    finally:
        gw.close()
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        typer.echo(f"{project}：发现 {report.findings} 处篡改迹象 | {project}: "
                   f"{report.findings} finding(s)", err=True)
        if anchor:
            typer.echo("未写入锚点：审计链未通过核对 | not anchored: the chain did not verify",
                       err=True)
        raise typer.Exit(1)


@audit_app.command("adopt")
def audit_adopt(ctx: typer.Context, project: ProjectOpt) -> None:
    """After upgrading: put the rows stored before state tracking into the chain, once."""
    gw = open_app(ctx)
    try:
        counts = guarded(ctx, lambda: adopt_project(gw, project, actor=actor()))
    finally:
        gw.close()
    typer.echo(f"{project}：已纳入审计链 {counts['message']} 封邮件、{counts['record']} 条记录、"
               f"{counts['receipt']} 个回执 | adopted {counts['message']} message(s), "
               f"{counts['record']} record(s), {counts['receipt']} receipt(s) into the chain")


def purge(ctx: typer.Context, project: ProjectOpt,
          before: Annotated[datetime, typer.Option(
              "--before", formats=["%Y-%m-%d"],
              help="Purge records whose last activity is before this date (YYYY-MM-DD).")],
          dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")
                             ] = False) -> None:
    """Delete records past retention that an archive covers (refused otherwise, exit 2)."""
    gw = open_app(ctx)
    cutoff: date = before.date()

    def run() -> None:
        cfg = gw.settings.project(project)
        now = gw.clock()
        with unit_of_work(gw.sessions) as session:
            plan = plan_purge(session, cfg, gw.project_ids[project], cutoff, now)
            what = (f"{len(plan.record_ids)} record(s), {len(plan.message_ids)} message(s) of "
                    f"{project} last active before {cutoff} (archive #{plan.archive_id})")
            if dry_run:
                typer.echo(f"would purge {what}")
                return
            result = execute_purge(session, plan, actor=actor(), now=now)
        with unit_of_work(gw.sessions) as session:
            removed = remove_unshared_raw(session, gw.raw, result.raw_candidates)
        typer.echo(f"purged {what}; {removed} raw message(s) removed")

    try:
        guarded(ctx, run)
    finally:
        gw.close()


@archive_app.command("export")
def archive_export(ctx: typer.Context, project: ProjectOpt,
                   out: Annotated[Path, typer.Option("--out", "-o", help="Zip file to write.")],
                   ) -> None:
    """Write the project's archive (mail, attachments, records, forms, audit log, manifest)."""
    gw = open_app(ctx)
    try:
        result = guarded(ctx, lambda: _with_progress(
            f"archiving {project}", lambda report: export_project(
                gw, project, out, actor=actor(), progress=report)))
    finally:
        gw.close()
    typer.echo(f"wrote {result.path}: {result.messages} message(s), {result.attachments} "
               f"attachment(s), {result.records} record(s), {result.audit_seq} audit event(s), "
               f"{result.size / 1048576:.1f} MB, sha256 {result.sha256}")
    for problem in result.problems:
        typer.echo(f"  WARNING {problem}", err=True)


@archive_app.command("verify")
def archive_verify(ctx: typer.Context,
                   path: Annotated[Path, typer.Argument(help="The archive zip.")],
                   skip_signature: Annotated[bool, typer.Option(
                       "--skip-signature",
                       help="Do not check MANIFEST.sig (no gateway key at hand: then an edited "
                            "file with a recomputed manifest is not detected).")] = False,
                   ) -> None:
    """Check the archive's manifest and its signature, its mail against recorded hashes, and
    its audit chain."""
    secret: bytes | None = None
    if not skip_signature:
        try:
            secret = load_settings(ctx.obj.config).secret_key
        except GatewayError as exc:
            raise fail(f"{exc}: the gateway's secret key is needed to check MANIFEST.sig "
                       f"(give --config or COMMGATE_SECRET_KEY, or --skip-signature)") from None
    problems = guarded(ctx, lambda: verify_archive(path, secret=secret))
    if problems:
        for problem in problems:
            typer.echo(f"BROKEN {problem}")
        typer.echo(f"{path}: 发现 {len(problems)} 处问题 | {len(problems)} problem(s)")
        raise typer.Exit(1)
    if skip_signature:
        typer.echo(f"{path}: 完好（清单、邮件哈希和审计链已核对；未核对签名） | intact (manifest, "
                   f"mail hashes and audit chain verified; signature NOT checked)")
    else:
        typer.echo(f"{path}: 完好（清单、签名、邮件哈希和审计链已核对） | intact (manifest, "
                   f"signature, mail hashes and audit chain verified)")


@project_app.command("close")
def project_close(ctx: typer.Context, code: Annotated[str, typer.Argument(help="Project code.")],
                  out: Annotated[Path | None, typer.Option(
                      "--out", "-o", help="Archive file (default: <data_dir>/archives/<code>/).")
                  ] = None) -> None:
    """End a project: stop intake, export the archive, hand it to the quality department."""
    gw = open_app(ctx)
    try:
        result = guarded(ctx, lambda: _with_progress(
            f"closing {code}", lambda report: close_project(gw, code, out=out, actor=actor(),
                                                            progress=report)))
    finally:
        gw.close()
    if result.archive is None:
        typer.echo(f"{code} was already handed over (handover #{result.handover_id} to "
                   f"{result.recipient}); intake stays closed")
        return
    how = "attached" if result.attached else f"location {result.archive.path}"
    typer.echo(f"{code} closed: intake stopped, archive {result.archive.path} "
               f"(sha256 {result.archive.sha256}) queued for {result.recipient} ({how})")


@project_app.command("reopen")
def project_reopen(ctx: typer.Context,
                   code: Annotated[str, typer.Argument(help="Project code.")],
                   by: Annotated[str, typer.Option("--by", help="Who reopens it (address).")],
                   note: Annotated[str, typer.Option("--note", help="Why (audited).")]) -> None:
    """Open a closed project's address again (audited); a later close hands over anew."""
    who = try_normalize(by)
    if not who:
        raise fail(f"--by {by!r} is not a mail address")
    gw = open_app(ctx)
    try:
        guarded(ctx, lambda: gw.settings.project(code))

        def run() -> None:
            with unit_of_work(gw.sessions) as session:
                reopen(session, gw.project_ids[code], actor=f"user:{who}", note=note,
                       now=gw.clock())

        guarded(ctx, run)
    finally:
        gw.close()
    typer.echo(f"{code} reopened by {who}: its address takes mail again")


@project_app.command("list")
def project_list(ctx: typer.Context,
                 as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
                 ) -> None:
    """Every project: code, address, state, records, open receipts."""

    gw = open_app(ctx)
    try:
        def run() -> list[ProjectRow]:
            with unit_of_work(gw.sessions) as session:
                return project_rows(session, gw.settings, gw.project_ids)

        rows = guarded(ctx, run)
    finally:
        gw.close()
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    header = ("code", "address", "state", "records", "open receipts")
    table = [header, *((r.code, r.address, r.state, str(r.records), str(r.open_receipts))
                       for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
                   .rstrip())


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
    app.add_typer(archive_app, name="archive")
    app.add_typer(project_app, name="project")
    app.command("purge")(purge)
