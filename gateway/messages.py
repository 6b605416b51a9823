"""``commgate messages list|replay``: stored messages by state, and replaying quarantined ones."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlalchemy import select

from gateway.store.db import unit_of_work
from gateway.store.models import Message, Project

messages_app = typer.Typer(no_args_is_help=True, help="Stored messages (原始邮件).")


@messages_app.command("list")
def list_messages(
    ctx: typer.Context,
    project: Annotated[str, typer.Option("--project", "-p")],
    state: Annotated[str | None, typer.Option(
        help="received, processed, quarantined or discarded.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
) -> None:
    """List stored messages, newest first, with their state and any quarantine reason."""
    from gateway.cli import guarded, open_app

    gw = open_app(ctx)
    guarded(ctx, lambda: gw.settings.project(project))
    with unit_of_work(gw.sessions) as session:
        q = (select(Message).join(Project, Project.id == Message.project_id)
             .where(Project.code == project).order_by(Message.id.desc()).limit(limit))
        if state:
            q = q.where(Message.state == state)
        rows = [{"id": m.id, "message_id": m.message_id, "state": m.state, "error": m.error,
                 "subject": m.subject, "from": m.from_addr, "size": m.size,
                 "received_at": m.received_at.isoformat(), "record_id": m.record_id,
                 "arrivals": len(m.arrivals)} for m in session.scalars(q)]
    gw.close()
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        line = f"{r['id']:>6} {r['state']:<11} <{r['message_id']}> {r['subject']}"
        typer.echo(line + (f"\n       {r['error']}" if r["error"] else ""))
    if not rows:
        typer.echo("no messages")


@messages_app.command("replay")
def replay_messages(ctx: typer.Context,
                    ids: Annotated[list[int], typer.Argument(help="Message ids.")]) -> None:
    """Run the pipeline again on quarantined messages (after a fix or a config change)."""
    from gateway.cli import open_app
    from gateway.pipeline import replay

    gw = open_app(ctx)
    failed = 0
    for pk in ids:
        state = replay(gw, pk)
        typer.echo(f"message {pk}: {state}")
        failed += state not in ("processed", "discarded")
    gw.close()
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(messages_app, name="messages")
