"""``commgate threads merge|split``: a project manager fixes threading by hand.

Threading is evidence-driven (gateway/thread/evidence.py); when people reply to the wrong mail or
start a
new topic in an old thread, the PM corrects it here. The records follow their threads
(gateway/records/edit.py does the work): merging folds one record into the other, splitting
opens a new record for the messages split off. Both are written to the audit trail with the
person who did it. This module is the command-line layer only.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from gateway.cli.common import guarded, open_project
from gateway.cli.options import Project
from gateway.records.edit import merge_by_hand, split_messages
from gateway.store.db import unit_of_work

threads_app = typer.Typer(no_args_is_help=True, help="Fix threads by hand (会话合并/拆分).")

By = Annotated[str | None, typer.Option("--by", help="Who does it (default: login name).")]


def _actor(by: str | None) -> str:
    return f"user:{by or getpass.getuser()}"


@threads_app.command("merge")
def merge_command(ctx: typer.Context,
                  keep: Annotated[int, typer.Argument(help="Record to keep.")],
                  absorb: Annotated[int, typer.Argument(help="Record folded into it.")],
                  project: Project, by: By = None) -> None:
    """Merge two records' threads into one (the first record stays)."""
    gw, _config = open_project(ctx, project)

    def run() -> int:
        with unit_of_work(gw.sessions) as session:
            return merge_by_hand(session, project_id=gw.project_ids[project], keep_record=keep,
                         absorb_record=absorb, actor=_actor(by), now=gw.clock()).id

    try:
        kept = guarded(ctx, run)
    finally:
        gw.close()
    typer.echo(f"record {absorb} merged into record {kept}")


@threads_app.command("split")
def split_command(ctx: typer.Context,
                  message_ids: Annotated[list[str], typer.Argument(
                      help="Message-IDs to move to a new thread and record.")],
                  project: Project, by: By = None) -> None:
    """Split messages off their thread into a new thread with its own record."""
    gw, config = open_project(ctx, project)

    def run() -> int:
        with unit_of_work(gw.sessions) as session:
            _old, new = split_messages(session, project=config,
                                       project_id=gw.project_ids[project],
                                       message_ids=message_ids, actor=_actor(by),
                                       now=gw.clock(), raw=gw.raw.get)
            return new.id

    try:
        new = guarded(ctx, run)
    finally:
        gw.close()
    typer.echo(f"{len(message_ids)} message(s) split off into record {new}")


def register(app: typer.Typer) -> None:
    app.add_typer(threads_app, name="threads")
