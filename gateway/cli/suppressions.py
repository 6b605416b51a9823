"""``commgate suppressions list|lift``: addresses that get no automatic answers for now.

An address is suppressed when it sent *verified* automated mail (an auto-reply, a bounce, a read
receipt): for ``[outbound] suppression_days`` the gateway sends it no automatic answers
(gateway/notify/bounces.py). Reminders and escalations to a receipt holder are never held back,
and members and stakeholders are never suppressed. ``list`` shows the suppressions in force
(``--all``: expired ones too), ``lift`` removes one at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from sqlalchemy import select

from gateway.cli.common import fail, open_project, print_rows
from gateway.cli.options import AsJsonList, Project, parse_now
from gateway.notify.bounces import active_suppressions, lift
from gateway.records.localtime import local
from gateway.store.db import unit_of_work
from gateway.store.notify_models import Suppression

suppressions_app = typer.Typer(no_args_is_help=True,
                               help="Addresses that get no automatic answers (暂停自动回复).")


@suppressions_app.command("list")
def list_cmd(
    ctx: typer.Context,
    project: Project,
    include_expired: Annotated[bool, typer.Option("--all", help="Expired ones too.")] = False,
    as_json: AsJsonList = False,
    now: Annotated[str | None, typer.Option("--now", help="In force as of this time.")] = None,
) -> None:
    """Suppressed addresses of a project: since when, until when, and why."""
    gw, cfg = open_project(ctx, project)
    try:
        zone = cfg.zone
        at = parse_now(now, zone) or gw.clock()
        with unit_of_work(gw.sessions) as session:
            project_id = gw.project_ids[cfg.code]
            current = active_suppressions(session, project_id=project_id, now=at)
            found = list(session.scalars(select(Suppression).where(
                Suppression.project_id == project_id).order_by(Suppression.address))
            ) if include_expired else current
            active = {s.id for s in current}
            rows: list[dict[str, Any]] = [{
                "address": s.address, "reason": s.reason,
                "created_at": _local(s.created_at, zone),
                "expires_at": _local(s.expires_at, zone) if s.expires_at else None,
                "active": s.id in active} for s in found]
    finally:
        gw.close()
    print_rows(rows, as_json=as_json, empty="没有暂停自动回复的地址 no suppressed addresses",
               header=f"{'ADDRESS':<40} {'SINCE':<16} {'UNTIL':<16} {'ACTIVE':<6} REASON",
               line=lambda r: f"{r['address']:<40} {r['created_at'][:16]:<16} "
                              f"{(r['expires_at'] or 'lifted by hand')[:16]:<16} "
                              f"{'yes' if r['active'] else 'no':<6} {r['reason'][:60]}")


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return local(moment, zone).isoformat(timespec="minutes")


@suppressions_app.command("lift")
def lift_cmd(
    ctx: typer.Context,
    address: Annotated[str, typer.Argument(help="The suppressed address.")],
    project: Project,
) -> None:
    """Lift a suppression now: automatic answers go to the address again."""
    gw, cfg = open_project(ctx, project)
    try:
        with unit_of_work(gw.sessions) as session:
            lifted = lift(session, project_id=gw.project_ids[cfg.code], address=address)
    finally:
        gw.close()
    if not lifted:
        raise fail(f"{address}: not suppressed in project {cfg.code}", code=1)
    typer.echo(f"{address}: suppression lifted (project {cfg.code})")


def register(app: typer.Typer) -> None:
    app.add_typer(suppressions_app, name="suppressions")
