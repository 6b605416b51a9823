"""``commgate ingest``: import .eml files, mbox files and Maildir folders through the same intake
as SMTP. ``--sync`` processes each message before returning; otherwise the jobs go to the broker,
or — embedded, with no broker — wait for a running ``commgate serve`` to sweep them up.
``--history`` imports old mail as records without opening deadlines or sending anything.
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from gateway.app import App
from gateway.cli.common import fail, guarded, open_app
from gateway.errors import GatewayError


@dataclass
class IngestReport:
    stored: int = 0
    duplicates: int = 0
    failed: list[str] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)


def _is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(5) == b"From "


def iter_sources(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    """Yield (label, raw bytes) for every message found under ``paths``."""
    for path in paths:
        if _is_maildir(path):
            box = mailbox.Maildir(path, factory=None, create=False)
            for key in box.iterkeys():
                with box.get_file(key) as fh:
                    yield f"{path}:{key}", fh.read()
        elif path.is_dir():
            yield from iter_sources(sorted(p for p in path.iterdir()
                                           if not p.name.startswith(".")))
        elif _is_mbox(path):
            box_m = mailbox.mbox(path, factory=None, create=False)
            try:
                for key in box_m.iterkeys():
                    yield f"{path}#{key}", box_m.get_bytes(key)
            finally:
                box_m.close()
        else:
            yield str(path), path.read_bytes()


def count_sources(paths: list[Path]) -> int:
    return sum(1 for _ in iter_sources(paths))


def ingest(app: App, project: str, paths: list[Path], *, sync: bool, history: bool,
           enqueue: bool, progress: bool = False) -> IngestReport:
    # Loaded by the command that runs it: intake, the pipeline and the jobs (dramatiq,
    # prometheus) at module level would slow every command's start, `commgate --help` too.
    from gateway.inbound.intake import accept
    from gateway.jobs.actors import make_jobs
    from gateway.observe.metrics import MESSAGES_ACCEPTED
    from gateway.pipeline import process

    jobs = make_jobs(app.settings.gateway.broker_url) if enqueue and not sync else None
    report = IngestReport()
    total = count_sources(paths) if progress else None
    with _progress(total, progress) as advance:
        for label, raw in iter_sources(paths):
            try:
                result = accept(app, project=project, raw=raw, channel="import",
                                history=history, will_enqueue=jobs is not None)
            except GatewayError as exc:
                report.failed.append(f"{label}: {exc}")
                advance()
                continue
            MESSAGES_ACCEPTED.labels(channel="import").inc()
            if result.duplicate:
                report.duplicates += 1
            else:
                report.stored += 1
                if sync:
                    state = process(app, result.message_pk)
                    report.states[state] = report.states.get(state, 0) + 1
                elif jobs is not None:
                    jobs.enqueue_message(result.message_pk)
            advance()
    return report


@contextmanager
def _progress(total: int | None, enabled: bool) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr while importing many files; a no-op when disabled."""
    if not enabled:
        yield lambda: None
        return
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("importing", total=total)
        yield lambda: bar.advance(task)


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_command(
        ctx: typer.Context,
        paths: Annotated[list[Path], typer.Argument(help=".eml files, mbox files, Maildirs.")],
        project: Annotated[str, typer.Option("--project", "-p", help="Project code.")],
        sync: Annotated[bool, typer.Option(help="Process before returning.")] = False,
        history: Annotated[bool, typer.Option(
            help="Old mail: records only, no deadlines, notices or reminders.")] = False,
    ) -> None:
        """Import mail from files through the same pipeline as SMTP."""
        for path in paths:
            if not path.exists():
                raise fail(f"{path}: no such file or folder")
        gw = open_app(ctx)
        guarded(ctx, lambda: gw.settings.project(project))
        broker = bool(gw.settings.gateway.broker_url)
        report = guarded(ctx, lambda: ingest(gw, project, paths, sync=sync, history=history,
                                             enqueue=broker, progress=True))
        typer.echo(f"stored {report.stored}, already known {report.duplicates}, "
                   f"failed {len(report.failed)}")
        for state, n in sorted(report.states.items()):
            typer.echo(f"  {state}: {n}")
        if report.stored and not sync and not broker:
            typer.echo("  (no broker configured: a running `commgate serve` processes them "
                       "within seconds; use --sync to process now)")
        for line in report.failed[:20]:
            typer.echo(f"  failed: {line}", err=True)
        gw.close()
        if report.failed:
            raise typer.Exit(1)
