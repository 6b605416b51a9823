"""``commgate report weekly|monthly|phase|incident|risk``: render a report to a file or send it.

``--period`` takes ``2026-W48``, ``2026-11`` or ``2026-11-01..2026-11-15``; without it the
current week or month (so far) in the project's time zone. ``--out FILE.html`` writes the HTML
(and FILE.txt beside it); ``--send`` queues it for the matrix recipients. ``report tick`` runs
the scheduler hook once (due periodic reports, expected-mail reminders).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import choose, fail, guarded, open_app
from gateway.reports.approval import approvers, draft_report
from gateway.reports.build import DueReport, build, needs_approval, recipients, send_report
from gateway.reports.periods import month_of, parse_period, week_of
from gateway.reports.schedule import tick
from gateway.reports.special import record_facts, special_recipients, special_report
from gateway.store.db import unit_of_work
from gateway.store.models import Record

report_app = typer.Typer(no_args_is_help=True, help="Reports (周报、月报、专项报告).")
KINDS = ("weekly", "monthly", "phase", "incident", "risk")


def _make(ctx: typer.Context, kind: str, project: str, period: str | None, out: Path | None,
          send: bool, record: int | None, lang: str | None) -> None:
    choose("--lang", lang, ("zh-CN", "en"))
    gw = open_app(ctx)
    cfg = guarded(ctx, lambda: gw.settings.project(project))
    now = gw.clock()
    try:
        chosen = (parse_period(period, cfg.zone) if period else
                  week_of(now, cfg.zone) if kind == "weekly" else month_of(now, cfg.zone))
    except ValueError as exc:
        raise fail(str(exc)) from None
    special = kind in ("incident", "risk")
    if special and record is None:
        raise fail(f"report {kind} needs --record ID (the {kind} record it reports)")
    with unit_of_work(gw.sessions) as session:
        extra = {}
        if special:
            rec = session.get(Record, record)
            if rec is None or rec.project_id != gw.project_ids[project]:
                raise fail(f"no record {record} in project {project} (hint: `commgate records "
                           f"list --project {project} --category {kind}` lists them)")
            extra = {"rec": record_facts(rec)}
        if send:
            if special:
                assert rec is not None
                done = special_report(gw, session, project=cfg, record=rec, now=now, kind=kind)
                to = special_recipients(cfg, kind)
            else:
                row = next((r for r in cfg.matrix if r.kind == f"{kind}_report"), None)
                to = recipients(cfg, row) or [m.email for m in cfg.members
                                              if m.role != "engineer"]
                if row is not None and needs_approval(cfg, row, to):
                    # a report to the client goes to its owner first (gateway/reports/approval)
                    done = draft_report(gw, session, project=cfg, now=now, to=to,
                                        due=DueReport(kind, chosen, now, row))
                    owners = ", ".join(approvers(cfg, row.owner))
                    typer.echo(f"{kind} report {chosen.key}: " + (
                        f"drafted to {owners} for approval" if done
                        else "already drafted or sent"))
                    return
                done = send_report(gw, session, project=cfg, kind=kind, period=chosen, to=to,
                                   now=now)
            typer.echo(f"{kind} report {chosen.key}: " + (f"queued for {', '.join(to)}" if done
                                                          else "already sent"))
            return
        _data, rendered = build(session, project=cfg, project_id=gw.project_ids[project],
                                kind=kind, period=chosen, now=now, language=lang, extra=extra)
    if out is None:
        typer.echo(rendered.subject + "\n\n" + rendered.text)
        return
    out.write_text(rendered.html, encoding="utf-8")
    out.with_suffix(".txt").write_text(rendered.subject + "\n\n" + rendered.text,
                                       encoding="utf-8")
    typer.echo(f"{rendered.subject}: written to {out}", err=True)


def _command(kind: str) -> None:
    @report_app.command(kind, help=f"The {kind} report.")
    def run(ctx: typer.Context,
            project: Annotated[str, typer.Option("--project", "-p", help="Project code.")],
            period: Annotated[str | None, typer.Option(
                "--period", help="2026-11 (month), 2026-W49 (ISO week) or "
                                 "2026-11-01..2026-11-15 (default: the current one).")] = None,
            out: Annotated[Path | None, typer.Option("--out", help="Write HTML here.")] = None,
            send: Annotated[bool, typer.Option("--send", help="Queue it for its readers.")]
            = False,
            record: Annotated[int | None, typer.Option(
                "--record", help="The record an incident or risk report is about.")] = None,
            lang: Annotated[str | None, typer.Option(
                "--lang", help="zh-CN or en (default: the project's language).")] = None
            ) -> None:
        _make(ctx, kind, project, period, out, send, record, lang)


for _kind in KINDS:
    _command(_kind)


@report_app.command("tick")
def tick_cmd(ctx: typer.Context) -> None:
    """Queue due periodic reports and expected-mail reminders once (the scheduler hook)."""
    gw = open_app(ctx)
    queued = guarded(ctx, lambda: tick(gw, gw.clock()))
    typer.echo(f"queued {queued} mail(s)")
    gw.close()


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
