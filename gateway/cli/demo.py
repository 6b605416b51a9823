"""``commgate demo``: the whole gateway story in one command, safe to run anywhere, any time.

It loads the shipped configuration (``--config``, the ``demo`` project only) and runs it in its
own data folder (``var/demo`` by default) with the embedded defaults forced: SQLite there, an
in-process broker, SMTP on a free loopback port (``--port`` to choose), outbound mail to the
folder's Maildir, no ops endpoint, no relay — no network, no services, and never the data of a
real ``serve`` (the folder is wiped first only when it is empty or an earlier demo's, marked by
a ``.commgate-demo`` file; ``--keep`` keeps it). The story itself is gateway/demo/story.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gateway.app import App, build_app
from gateway.cli.common import fail, guarded
from gateway.config.env import config_path, environment, without_gateway_variables
from gateway.config.settings import (
    DEFAULT_CONFIG_PATH,
    Ops,
    Outbound,
    Settings,
    SmtpListener,
    load_gateway,
    load_settings,
)
from gateway.observe.logs import setup_logging

if TYPE_CHECKING:
    from gateway.demo.story import Outcome, Step

MARKER = ".commgate-demo"
DEFAULT_DIR = Path("var/demo")


def prepare_folder(folder: Path, *, keep: bool, real_data_dir: Path) -> None:
    """Make ``folder`` a fresh demo folder, refusing anything that could hold real data."""
    target, real = folder.resolve(), real_data_dir.resolve()
    if target == real or target in real.parents:
        raise fail(f"--data-dir {folder}: that is (or holds) the gateway's data folder "
                   f"{real_data_dir}; the demo needs a folder of its own, e.g. var/demo")
    if target.exists() and any(target.iterdir()) and not (target / MARKER).exists():
        raise fail(f"--data-dir {folder}: not empty and not an earlier demo's folder "
                   f"(no {MARKER} file); choose another folder")
    if target.exists() and not keep:
        shutil.rmtree(target)
    target.mkdir(parents=True, exist_ok=True)
    (target / MARKER).write_text("made by `commgate demo`; wiped by its next run\n")


def demo_settings(config: Path | None, folder: Path, port: int) -> Settings:
    """The shipped configuration, the demo project alone, with the embedded defaults forced."""
    # No COMMGATE_* from the caller's environment: not a production database, broker, relay
    # or secret. The secret key is generated into the demo folder.
    environ = without_gateway_variables()
    environ["COMMGATE_DATA_DIR"] = str(folder)
    loaded = load_settings(config or DEFAULT_CONFIG_PATH, environ)
    gateway = loaded.gateway.model_copy(update={
        "data_dir": str(folder), "database_url": "", "broker_url": "",
        "sweep_interval": 3600.0,  # the story moves the clock; no background passes
        "log_level": "ERROR", "smtp": SmtpListener(host="127.0.0.1", port=port),
        "outbound": Outbound(), "ops": Ops(enabled=False)})
    return replace(loaded, gateway=gateway, projects={"demo": loaded.project("demo")})


def open_demo_app(settings: Settings, clock: Callable[[], datetime]) -> App:
    """A fresh SQLite database built by the migrations, as `commgate serve` would build it."""
    return build_app(settings, migrate=True, clock=clock)


def _print_step(console: Console, step: Step) -> None:
    """A step: when and what (zh-CN, then English dimmed), then the gateway's evidence."""
    head = Text()
    if step.when:
        head.append(step.when + "  ", style="bold cyan")
    head.append(step.title[0], style="bold")
    console.print()
    console.print(head)
    console.print(Text("  " + step.title[1], style="dim"))
    for zh, en in step.lines:
        console.print(Text("  • " + zh.strip()))
        console.print(Text("    " + en.strip(), style="dim"))


def _row(table: Table, *cells: str) -> None:
    table.add_row(*(Text(c) for c in cells))  # Text: "[demo#R1]" is not rich markup


def _summary(console: Console, app: App, outcome: Outcome, folder: Path) -> None:
    from gateway.demo.view import receipts, records  # see demo_command

    table = Table(title="沟通记录 / records", title_justify="left")
    for col in ("id", "category", "group", "formality", "receipts", "subject"):
        table.add_column(col)
    for r in records(app):
        _row(table, f"R{r['id']}", r["category"], r["stakeholder_group"], r["formality"],
             ", ".join(f"{x['recipient'].split('@')[0]}:{x['status']}" for x in r["receipts"]),
             r["subject"])
    console.print(table)
    table = Table(title="回执 / receipts", title_justify="left")
    for col in ("record", "recipient", "status", "level", "deadline"):
        table.add_column(col)
    for r in receipts(app):
        _row(table, f"R{r['record_id']}", r["recipient"], r["status"], str(r["level"]),
             (r["deadline"] or "")[:16])
    console.print(table)
    table = Table(title=f"发件箱 Maildir / outbox Maildir ({len(outcome.mails)})",
                  title_justify="left")
    for col in ("kind", "to", "subject"):
        table.add_column(col)
    for m in outcome.mails:
        _row(table, m.kind, ", ".join(m.to), m.subject)
    console.print(table)
    env = f"COMMGATE_DATA_DIR={folder}"
    console.print()
    console.print(Panel(Text("\n".join([
        f"发件箱（Maildir）/ outbox Maildir:   {app.settings.outbox_dir}/new/  "
        f"(mutt -f {app.settings.outbox_dir})",
        f"周报 HTML / weekly report HTML:      {outcome.report_html}",
        f"数据库 / database:                   {app.settings.database_url}",
        f"{env} commgate records list --project demo",
        f"{env} commgate receipts list --project demo",
        f"{env} commgate records show 1 --project demo",
        f"{env} commgate outbox list --project demo",
        "再次运行会清空并重来 / run again to start over (--keep keeps the folder)"])),
        title="去哪里看 / where to look", title_align="left", border_style="green"))


def demo_command(
        ctx: typer.Context,
        data_dir: Annotated[Path, typer.Option("--data-dir", help="The demo's own folder.")]
        = DEFAULT_DIR,
        keep: Annotated[bool, typer.Option("--keep", help="Do not wipe the folder first.")]
        = False,
        port: Annotated[int, typer.Option("--port", help="SMTP port on 127.0.0.1 (0: free).")]
        = 0,
) -> None:
    """Run the whole story on a demo clock: directive, change notice, replies, a forgery,
    the National Day holiday, reminders, escalations, a weekly report (一键演示)."""
    # Loaded by the command that runs it: the story drives the whole gateway (SMTP, jobs,
    # pipeline), which at module level would slow every command's start, `commgate --help` too.
    from gateway.demo.story import Story
    from gateway.testing.clock import FakeClock

    config = ctx.obj.config or Path(config_path() or DEFAULT_CONFIG_PATH)
    real = guarded(ctx, lambda: load_gateway(config, environment()))
    prepare_folder(data_dir, keep=keep, real_data_dir=Path(real.data_dir))
    settings = guarded(ctx, lambda: demo_settings(config, data_dir, port))
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)  # piped: keep the tables readable
    console.rule("[bold]commgate 演示 / demo[/] — 项目 demo，时钟由演示控制 / "
                 "the demo moves the clock")
    clock = FakeClock("2026-09-30 09:00")  # the story's clock, in the project's zone
    setup_logging(settings.gateway, debug=ctx.obj.debug)  # errors only: the story speaks
    app = guarded(ctx, lambda: open_demo_app(settings, clock))
    try:
        try:
            outcome = Story(app, clock, lambda step: _print_step(console, step)).run()
        except TimeoutError as exc:
            raise fail(f"demo: {exc}") from None
        _summary(console, app, outcome, data_dir)
    finally:
        app.close()


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
