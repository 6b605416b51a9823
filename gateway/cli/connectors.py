"""``commgate connectors list|send``: the business-process deliveries, visible and drivable.

``list`` shows each delivery's state (pending / sending / sent), attempts, next attempt and
last error; ``send`` posts whatever is due now (the scheduler does the same on every tick).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.cli.common import choose, guarded, newest, open_app, project_of
from gateway.cli.options import AnyProject, OnlyProject
from gateway.connectors.outbox import dispatch_due
from gateway.store.audit_models import ConnectorDelivery
from gateway.store.db import unit_of_work
from gateway.store.states import CONNECTOR_STATES

connectors_app = typer.Typer(no_args_is_help=True,
                             help="Business-process system deliveries (钉钉/DingTalk).")


@connectors_app.command("list")
def list_deliveries(
        ctx: typer.Context,
        project: OnlyProject = None,
        state: Annotated[str | None, typer.Option(
            help="Only this state: " + ", ".join(CONNECTOR_STATES) + ".")] = None,
        limit: Annotated[int, typer.Option(help="Most recent N.")] = 100) -> None:
    """List deliveries, newest first."""

    choose("--state", state, CONNECTOR_STATES)
    gw = open_app(ctx)
    try:
        codes = {pid: code for code, pid in gw.project_ids.items()}
        q = newest(ctx, gw, ConnectorDelivery, project=project, state=state, limit=limit)
        with unit_of_work(gw.sessions) as session:
            rows = list(session.scalars(q))
    finally:
        gw.close()
    if not rows:
        typer.echo("no connector deliveries")
        return
    table = Table(title=f"{len(rows)} connector deliveries")
    for col in ("id", "project", "record", "connector", "state", "attempts", "next attempt",
                "sent", "last error"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r.id), codes.get(r.project_id, "?"), str(r.record_id), r.connector,
                      r.state, str(r.attempts),
                      "" if r.state == "sent" else r.next_attempt_at.isoformat(timespec="seconds"),
                      r.sent_at.isoformat(timespec="seconds") if r.sent_at else "",
                      r.last_error or "")
    Console(width=max(140, Console().width)).print(table)


@connectors_app.command("send")
def send_due(ctx: typer.Context,
             project: AnyProject = None
             ) -> None:
    """Post every delivery that is due now."""
    gw = open_app(ctx)
    try:
        if project:
            project_of(ctx, gw, project)
        stats = guarded(ctx, lambda: dispatch_due(gw, project=project, limit=1000))
    finally:
        gw.close()
    typer.echo(f"sent {stats.sent}, failed {stats.failed} (retried later), "
               f"taken by another worker {stats.taken}"
               + (f", waiting for an unconfigured connector {stats.waiting}"
                  if stats.waiting else ""))
    for line in stats.errors:
        typer.echo(f"  {line}", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(connectors_app, name="connectors")
