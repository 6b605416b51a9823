"""``commgate notice …`` and ``commgate outbox …``: send templated notices, watch the outbox.

``notice send`` validates (a missing field is named, exit 2, nothing sent), renders, previews
(``--preview`` in the terminal, ``--preview-html FILE``) or queues the notice. Queued mail is
delivered by a running ``serve`` (its outbox sweep) or by ``outbox deliver``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli.common import (
    choose,
    fail,
    guarded,
    newest,
    open_app,
    open_project,
    print_rows,
    settings_of,
)
from gateway.cli.options import AsJson, OnlyProject, Project
from gateway.config.settings import ProjectConfig
from gateway.notify import notices
from gateway.notify.kinds import KINDS
from gateway.notify.notices import default_sender
from gateway.notify.outbox import deliver_due, retry
from gateway.records.record_cc import record_context, record_thread_refs
from gateway.store.db import unit_of_work
from gateway.store.notify_models import OutboxMail
from gateway.store.states import OUTBOX_STATES

LANGUAGES = ("zh-CN", "en")

notice_app = typer.Typer(no_args_is_help=True, help="Templated notices (通知).")
outbox_app = typer.Typer(no_args_is_help=True, help="Outbound mail queue (发件箱).")


def _values(sets: list[str], file: Path | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if file is not None:
        try:
            values.update(tomllib.loads(file.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise fail(f"{file}: {exc}") from None
    for item in sets:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise fail(f"--set {item!r}: expected key=value")
        values[key.strip()] = value
    return values


def _record_id(values: dict[str, Any]) -> int:
    """record_cc's ``--set record=N``: a record id, or exit 2 saying so."""
    text = str(values.get("record", "")).strip().upper().removeprefix("R")
    if not text.isdigit():
        raise fail(f"record_cc: --set record={values.get('record', '')!r}: give a record id "
                   "(`commgate records list` shows them)")
    return int(text)


def _sender_or_default(cfg: ProjectConfig, kind: str, sender: str) -> tuple[str, str | None]:
    """``--from`` as given, or the project manager and the line that says so (for stderr, once
    the notice is queued or previewed)."""
    spec = KINDS.get(kind)
    if sender.strip() or spec is None or spec.automated:
        return sender, None
    name, address = default_sender(cfg)
    return address, (f"commgate: no --from given: the notice is from the project manager "
                     f"{name} <{address}>")


@notice_app.command("kinds")
def kinds() -> None:
    """List the notice kinds and their fields (* = required)."""
    for kind in KINDS.values():
        mark = "gateway mail" if kind.automated else "sender's mail"
        typer.echo(f"{kind.name}  {kind.title} / {kind.title_en}  ({mark}, record "
                   f"category {kind.category})")
        for f in kind.fields:
            extra = f" [{'|'.join(f.choices)}]" if f.choices else ""
            typer.echo(f"    {'*' if f.required else ' '} {f.name:<16} {f.help}{extra}")


@notice_app.command("send")
def send_cmd(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="change | incident | directive | minutes | "
                                             "work_contact | record_cc")],
    project: Project,
    to: Annotated[list[str], typer.Option("--to", help="Recipient (repeat).")] = [],  # noqa: B006
    cc: Annotated[list[str], typer.Option("--cc", help="Copy (repeat).")] = [],  # noqa: B006
    sender: Annotated[str, typer.Option(
        "--from", help="The member who sends it (default: the project manager).")] = "",
    sets: Annotated[list[str], typer.Option("--set", help="key=value (repeat).")] = [],  # noqa: B006
    file: Annotated[Path | None, typer.Option("--file", help="Fields from a TOML file.")] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="zh-CN or en for everyone.")] = None,
    record: Annotated[int | None, typer.Option("--record", help="Reply into a record.")] = None,
    preview: Annotated[bool, typer.Option("--preview", help="Show, do not send.")] = False,
    preview_html: Annotated[Path | None, typer.Option(
        "--preview-html", help="Write the HTML of the notice to this file, do not send.")] = None,
) -> None:
    """Validate, render and queue a notice (or preview it)."""
    choose("--lang", lang, LANGUAGES)
    values = _values(sets, file)
    if preview or preview_html:
        settings = settings_of(ctx)
        cfg = guarded(ctx, lambda: settings.project(project))
        sender, said = _sender_or_default(cfg, kind, sender)
        if kind == "record_cc":
            raise fail("record_cc reads a stored record: send it without --preview, or use "
                       "`commgate records show`")
        prepared = guarded(ctx, lambda: notices.prepare(
            settings, cfg, kind=kind, sender=sender, to=to, cc=cc, values=values,
            language=lang, record_id=record))
        for message, rcpts in prepared.mails:
            if preview:
                typer.echo(f"--- envelope to: {', '.join(rcpts)}")
                for name in ("From", "To", "Cc", "Subject", "Auto-Submitted"):
                    if message[name]:
                        typer.echo(f"{name}: {message[name]}")
                typer.echo("")
                typer.echo(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
        if preview_html:
            preview_html.write_text(prepared.rendered[0].html, encoding="utf-8")
            typer.echo(f"HTML preview written to {preview_html}", err=True)
        if said:
            typer.echo(said, err=True)
        return
    gw, cfg = open_project(ctx, project)
    now = gw.clock()
    sender, said = _sender_or_default(cfg, kind, sender)

    def run() -> list[int]:
        rec: dict[str, Any] | None = None
        refs: list[str] = []
        to_list = list(to)
        record_id = record
        if kind == "record_cc":
            with unit_of_work(gw.sessions) as session:
                rec, everyone, refs = record_context(session, cfg, _record_id(values))
            to_list = to_list or everyone
            record_id = rec["id"]
        elif record is not None:  # reply into record N: its thread, so the reply joins it
            with unit_of_work(gw.sessions) as session:
                record_id, refs = record_thread_refs(session, gw.project_ids[project], record)
        prepared = notices.prepare(gw.settings, cfg, kind=kind, sender=sender, to=to_list,
                                   cc=cc, values=values, record=rec, language=lang,
                                   record_id=record_id, references=refs)
        return notices.send(gw, prepared, project=cfg, now=now)

    try:
        ids = guarded(ctx, run)
    finally:
        gw.close()
    if said:
        typer.echo(said, err=True)
    typer.echo(f"queued: outbox {', '.join(map(str, ids))} (delivered by `commgate serve` "
               "or `commgate outbox deliver`)")


@outbox_app.command("list")
def list_cmd(
    ctx: typer.Context,
    project: OnlyProject = None,
    state: Annotated[str | None, typer.Option(
        "--state", help="Only this state: " + ", ".join(OUTBOX_STATES) + ".")] = None,
    as_json: AsJson = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 100,
) -> None:
    """Outbound mail and its delivery state, newest first."""
    choose("--state", state, OUTBOX_STATES)
    gw = open_app(ctx)
    query = newest(ctx, gw, OutboxMail, project=project, state=state, limit=limit)
    with unit_of_work(gw.sessions) as session:
        rows: list[dict[str, Any]] = [{
            "id": m.id, "kind": m.kind, "state": m.state, "attempts": m.attempts,
            "subject": m.subject, "message_id": m.message_id, "record_id": m.record_id,
            "next_attempt_at": m.next_attempt_at.isoformat(), "bounced": m.bounced,
            "last_error": m.last_error,
            "recipients": {r.address: r.state for r in m.recipients},
        } for m in session.scalars(query)]
    gw.close()
    print_rows(rows, as_json=as_json,
               empty="no outbound mail" + (f" in state {state}" if state else ""),
               header=f"{'ID':>6} {'STATE':<8} {'TRY':>3} {'KIND':<12} SUBJECT  "
                      "[RECIPIENT:STATE]", line=_outbox_line)


def _outbox_line(r: dict[str, Any]) -> str:
    rcpts = ", ".join(f"{a}:{s}" for a, s in r["recipients"].items())
    return (f"{r['id']:>6} {r['state']:<8} {r['attempts']:>3} {r['kind']:<12} "
            f"{r['subject'][:50]}  [{rcpts}]"
            + (f"  ! {r['last_error'][:80]}" if r["last_error"] else "")
            + ("  BOUNCED" if r["bounced"] else ""))


@outbox_app.command("retry")
def retry_cmd(ctx: typer.Context, outbox_id: Annotated[int, typer.Argument(
        help="The outbox id (`commgate outbox list`).")]) -> None:
    """Queue a failed (or waiting) mail again now."""
    gw = open_app(ctx)
    try:
        with unit_of_work(gw.sessions) as session:
            if session.get(OutboxMail, outbox_id) is None:
                raise fail(f"no outbox mail {outbox_id} (hint: `commgate outbox list --state "
                           "failed` lists the ones to retry)")
            mail = retry(session, outbox_id, now=gw.clock())
            state = mail.state
    except ValueError as exc:
        raise fail(f"outbox {outbox_id}: {exc}") from None
    finally:
        gw.close()
    typer.echo(f"outbox {outbox_id}: {state}")


@outbox_app.command("deliver")
def deliver_cmd(ctx: typer.Context,
                limit: Annotated[int, typer.Option(
                    "--limit", help="At most this many mails.")] = 1000) -> None:
    """Deliver due mail once (what the sweep of `serve` does every few seconds)."""
    gw = open_app(ctx)
    sent = guarded(ctx, lambda: deliver_due(gw, now=gw.clock(), limit=limit))
    gw.close()
    typer.echo(f"sent {sent} mail(s)")


def register(app: typer.Typer) -> None:
    app.add_typer(notice_app, name="notice")
    app.add_typer(outbox_app, name="outbox")
