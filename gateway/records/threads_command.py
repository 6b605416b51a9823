"""``commgate threads merge|split``: a project manager fixes threading by hand.

Threading is evidence-driven (gateway/thread.py); when people reply to the wrong mail or start a
new topic in an old thread, the PM corrects it here. The records follow their threads: merging
folds one record into the other, splitting opens a new record for the messages split off. Both
are written to the audit trail with the person who did it.
"""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from gateway import audit
from gateway.audit_state import record_state
from gateway.errors import GatewayError
from gateway.records.store import _absorb
from gateway.store.db import unit_of_work
from gateway.store.models import Message, Receipt, Record
from gateway.store.threads import merge_threads, split_thread

threads_app = typer.Typer(no_args_is_help=True, help="Fix threads by hand (会话合并/拆分).")

Project = Annotated[str, typer.Option("--project", "-p", help="Project code.")]
By = Annotated[str | None, typer.Option("--by", help="Who does it (default: login name).")]


class ThreadEditError(GatewayError):
    """A merge or split that cannot be done as asked."""


def _record_of_thread(session: Session, thread_id: int) -> Record | None:
    return session.scalars(select(Record).where(Record.thread_id == thread_id)).one_or_none()


def merge(session: Session, *, project_id: int, keep_record: int, absorb_record: int,
          actor: str, now: datetime) -> Record:
    """Fold record ``absorb_record`` (and its thread) into ``keep_record``."""
    keep = session.get(Record, keep_record)
    other = session.get(Record, absorb_record)
    for rid, rec in ((keep_record, keep), (absorb_record, other)):
        if rec is None or rec.project_id != project_id:
            raise ThreadEditError(f"no record {rid} in this project")
    assert keep is not None and other is not None
    if keep.id == other.id:
        raise ThreadEditError("a record cannot be merged into itself")
    absorbed_thread = other.thread_id
    before = record_state(keep)
    merge_threads(session, project_id=project_id, keep=keep.thread_id, absorb=absorbed_thread)
    gone = _absorb(session, keep, absorbed_thread)
    if gone is not None:
        audit.record(session, project_id, "thread.merged_away", ("record", gone[0]), None,
                     actor=actor, now=now, before=gone[1], detail={"into": keep.id})
    audit.record(session, project_id, "thread.merged", keep, actor=actor, now=now,
                 before=before, detail={"records": [keep.id, absorb_record],
                                        "record": keep.id, "thread": keep.thread_id})
    return keep


def split(session: Session, *, project_id: int, message_ids: list[str], actor: str,
          now: datetime) -> Record:
    """Move the named messages into a new thread with a new record; return that record."""
    try:
        new_thread = split_thread(session, project_id=project_id, message_ids=message_ids,
                                  now=now)
    except ValueError as exc:
        raise ThreadEditError(str(exc)) from None
    moved = list(session.scalars(select(Message).where(Message.thread_id == new_thread)
                                 .order_by(Message.received_at, Message.id)))
    old = session.get(Record, moved[0].record_id) if moved and moved[0].record_id else None
    first = moved[0] if moved else None
    record = Record(project_id=project_id, thread_id=new_thread,
                    subject=first.subject if first else "",
                    category=old.category if old else "general",
                    stakeholder_group=old.stakeholder_group if old else "internal",
                    formality=old.formality if old else "written",
                    urgency=old.urgency if old else "normal",
                    receipt_required=old.receipt_required if old else False,
                    summary=(first.own_text or "")[:300] if first else "",
                    parties=[], reasons=[], message_count=len(moved),
                    history=[{"event": "split", "from_record": old.id if old else None,
                              "by": actor}],
                    created_at=(first.sent_at or first.received_at) if first else now,
                    updated_at=now)
    session.add(record)
    session.flush()
    pks = [m.id for m in moved]
    session.execute(update(Message).where(Message.id.in_(pks)).values(record_id=record.id))
    session.execute(update(Receipt).where(Receipt.message_pk.in_(pks))
                    .values(record_id=record.id))
    if old is not None:
        old.message_count = session.scalar(
            select(func.count()).select_from(Message).where(Message.record_id == old.id)) or 0
        old.history = old.history + [{"event": "split", "to_record": record.id, "by": actor,
                                      "message_ids": [m.message_id for m in moved]}]
    audit.record(session, project_id, "thread.split", record, actor=actor, now=now,
                 detail={"from_record": old.id if old else None, "record": record.id,
                         "messages": [m.message_id for m in moved]})
    return record


def _actor(by: str | None) -> str:
    return f"user:{by or getpass.getuser()}"


@threads_app.command("merge")
def merge_command(ctx: typer.Context,
                  keep: Annotated[int, typer.Argument(help="Record to keep.")],
                  absorb: Annotated[int, typer.Argument(help="Record folded into it.")],
                  project: Project, by: By = None) -> None:
    """Merge two records' threads into one (the first record stays)."""
    from gateway.cli import guarded, open_app

    gw = open_app(ctx)
    guarded(ctx, lambda: gw.settings.project(project))

    def run() -> int:
        with unit_of_work(gw.sessions) as session:
            return merge(session, project_id=gw.project_ids[project], keep_record=keep,
                         absorb_record=absorb, actor=_actor(by), now=gw.clock()).id

    kept = guarded(ctx, run)
    gw.close()
    typer.echo(f"record {absorb} merged into record {kept}")


@threads_app.command("split")
def split_command(ctx: typer.Context,
                  message_ids: Annotated[list[str], typer.Argument(
                      help="Message-IDs to move to a new thread and record.")],
                  project: Project, by: By = None) -> None:
    """Split messages off their thread into a new thread with its own record."""
    from gateway.cli import guarded, open_app

    gw = open_app(ctx)
    guarded(ctx, lambda: gw.settings.project(project))

    def run() -> int:
        with unit_of_work(gw.sessions) as session:
            return split(session, project_id=gw.project_ids[project], message_ids=message_ids,
                         actor=_actor(by), now=gw.clock()).id

    new = guarded(ctx, run)
    gw.close()
    typer.echo(f"{len(message_ids)} message(s) split off into record {new}")


def register(app: typer.Typer) -> None:
    app.add_typer(threads_app, name="threads")
