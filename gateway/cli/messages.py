"""``commgate messages list|replay``: stored messages by state, and replaying quarantined ones."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from sqlalchemy import select

from gateway.cli.common import choose, fail, open_app, open_project, print_rows
from gateway.cli.options import AsJson, Project
from gateway.store.db import unit_of_work
from gateway.store.models import Message
from gateway.store.models import Project as ProjectRow
from gateway.store.states import MESSAGE_STATES

messages_app = typer.Typer(no_args_is_help=True, help="Stored messages (原始邮件).")


@messages_app.command("list")
def list_messages(
    ctx: typer.Context,
    project: Project,
    state: Annotated[str | None, typer.Option(
        help="Only this state: " + ", ".join(MESSAGE_STATES) + ".")] = None,
    as_json: AsJson = False,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
) -> None:
    """List stored messages, newest first, with their state and any quarantine reason."""
    choose("--state", state, MESSAGE_STATES)
    gw, _config = open_project(ctx, project)
    with unit_of_work(gw.sessions) as session:
        q = (select(Message).join(ProjectRow, ProjectRow.id == Message.project_id)
             .where(ProjectRow.code == project).order_by(Message.id.desc()).limit(limit))
        if state:
            q = q.where(Message.state == state)
        rows = [{"id": m.id, "message_id": m.message_id, "state": m.state, "error": m.error,
                 "subject": m.subject, "from": m.from_addr, "size": m.size,
                 "received_at": m.received_at.isoformat(), "record_id": m.record_id,
                 "arrivals": len(m.arrivals)} for m in session.scalars(q)]
    gw.close()
    print_rows(rows, as_json=as_json, empty="no messages",
               header=f"{'ID':>6} {'STATE':<11} MESSAGE-ID SUBJECT", line=_message_line)


def _message_line(r: dict[str, Any]) -> str:
    line = f"{r['id']:>6} {r['state']:<11} <{r['message_id']}> {r['subject']}"
    return line + (f"\n       {r['error']}" if r["error"] else "")


@messages_app.command("replay")
def replay_messages(ctx: typer.Context,
                    ids: Annotated[list[int], typer.Argument(help="Message ids.")]) -> None:
    """Run the pipeline again on quarantined messages (after a fix or a config change)."""
    # Loaded by the command that runs it: the pipeline and its stages at module level would
    # slow every command's start, `commgate --help` too.
    from gateway.pipeline import replay

    gw = open_app(ctx)
    try:
        with unit_of_work(gw.sessions) as session:
            states: dict[int, str] = {pk: st for pk, st in session.execute(
                select(Message.id, Message.state).where(Message.id.in_(ids)))}
        unknown = [pk for pk in ids if pk not in states]
        if unknown:
            raise fail(f"no message {', '.join(map(str, unknown))} (hint: `commgate messages "
                       "list --project CODE --state quarantined` lists the ones to replay)")
        done = [pk for pk in ids if states[pk] == "processed"]
        if done:
            raise fail(f"message {', '.join(map(str, done))}: already processed, nothing to "
                       "replay (replay takes quarantined or discarded messages)")
        failed = 0
        for pk in ids:
            state = replay(gw, pk)
            typer.echo(f"message {pk}: {state}")
            failed += state not in ("processed", "discarded")
    finally:
        gw.close()
    if failed:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(messages_app, name="messages")
