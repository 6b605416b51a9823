"""``commgate plan --project CODE [--out DIR] [--lang en]``: write the project communication plan.

The plan (项目沟通计划, policy 4.1, attachment 1) is rendered from the project file alone — the
matrix, table 4-1 and the stakeholder directory (gateway/records/plan.py) — as HTML and Markdown,
so a project manager can print it, attach it to the kick-off minutes or keep it in the wiki. It
needs no database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import fail, guarded, settings_of
from gateway.records.forms import form_language
from gateway.records.plan import write_plan


def plan_command(ctx: typer.Context,
                 project: Annotated[str, typer.Option("--project", "-p", help="Project code.")],
                 out: Annotated[Path, typer.Option(help="Folder for the files.")] = Path("."),
                 lang: Annotated[str | None, typer.Option(
                     help="zh-CN or en (default: the project's language).")] = None,
                 ) -> None:
    """Write the project communication plan (项目沟通计划) as HTML and Markdown."""
    settings = settings_of(ctx)
    config = guarded(ctx, lambda: settings.project(project))
    try:
        language = form_language(lang, config)
    except ValueError as exc:
        raise fail(str(exc)) from None
    # The edge of the program: the one place this command reads the wall clock.
    now = datetime.now(UTC)
    try:
        written = write_plan(config, out, lang=language, now=now)
    except OSError as exc:
        raise fail(f"cannot write to {out}: {exc.strerror or exc}") from None
    for path in written:
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("plan")(plan_command)
