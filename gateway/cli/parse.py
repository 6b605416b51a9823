"""``gateway parse FILE... [--json]``: show how the parse stage sees mail, storing nothing.

Folders are walked for mail files (``*.eml``, ``*.msg``, ``*.txt`` and extension-less files);
with ``--json`` each message becomes one JSON object per line (JSON Lines), fit for ``jq`` over
thousands of messages. A quarantined message prints its reason and the command goes on; the exit
status is 1 when any message was quarantined and 2 when a path does not exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from gateway.errors import Quarantine
from gateway.parse.message import parse_message
from gateway.parse.model import ParsedMessage
from gateway.parse.serialize import to_json

_MAIL_SUFFIXES = frozenset({".eml", ".msg", ".txt", ".mbx", ""})


def mail_files(paths: list[Path]) -> Iterator[Path]:
    """The files named, and the mail-looking files inside folders named, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file()
                              and p.suffix.lower() in _MAIL_SUFFIXES and not p.name.startswith("."))
        else:
            yield path


def summary(parsed: ParsedMessage) -> str:
    """A few human-readable lines about one parsed message."""
    flags = [name for name, on in (("auto-reply", parsed.auto_reply),
                                   ("bounce", parsed.bounce is not None),
                                   ("mdn", parsed.mdn is not None)) if on]
    lines = [
        f"Message-ID: {parsed.message_id}"
        + (" (synthetic)" if parsed.message_id_synthetic else ""),
        f"From:       {parsed.from_name} <{parsed.from_addr or '?'}>",
        f"Subject:    {parsed.subject}",
        f"Date:       {parsed.date.isoformat() if parsed.date else '-'}",
        f"Flags:      {', '.join(flags) or '-'}"
        + (f" ({parsed.auto_reply_reason})" if parsed.auto_reply_reason else ""),
        f"Attachments: {_attachments(parsed) or '-'}",
        "Own text:",
        *("  " + line for line in (parsed.own_text or "(empty)").splitlines()[:20]),
    ]
    if parsed.bounce:
        lines.append(f"Bounce:     {', '.join(parsed.bounce.failed_recipients)} "
                     f"({'permanent' if parsed.bounce.permanent else 'temporary'})")
    return "\n".join(lines)


def _attachments(parsed: ParsedMessage) -> str:
    return ", ".join(f"{item.filename} ({item.size} B)" for item in parsed.attachments)


def parse_command(
    files: Annotated[list[Path], typer.Argument(help="Mail files or folders of mail files.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Parse mail files and print what the gateway would see, without storing anything."""
    missing = [str(path) for path in files if not path.exists()]
    if missing:
        typer.echo(f"error: no such file or folder: {', '.join(missing)}", err=True)
        raise typer.Exit(code=2)
    quarantined = 0
    for path in mail_files(files):
        try:
            parsed = parse_message(path.read_bytes())
        except Quarantine as error:
            quarantined += 1
            _report_quarantine(path, error, as_json)
            continue
        except OSError as error:
            typer.echo(f"error: {path}: {error.strerror or error}", err=True)
            raise typer.Exit(code=2) from None
        if as_json:
            typer.echo(json.dumps({"file": str(path), **to_json(parsed)}, ensure_ascii=False))
        else:
            typer.echo(f"== {path}\n{summary(parsed)}\n")
    if quarantined:
        raise typer.Exit(code=1)


def _report_quarantine(path: Path, error: Quarantine, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"file": str(path), "quarantine": str(error)}, ensure_ascii=False))
    else:
        typer.echo(f"== {path}\nquarantined: {error}\n")


def register(app: typer.Typer) -> None:
    """Add the ``parse`` command to the gateway CLI."""
    app.command("parse")(parse_command)
