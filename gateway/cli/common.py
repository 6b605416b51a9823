"""What every command shares: the global options, one-line errors, and opening the gateway.

The command modules (``gateway/cli/records.py``, ``gateway/cli/receipts.py``, …) are thin:
parse options → call a domain function → print. They take these helpers from here, never from
gateway/cli/main.py (which imports every command module to register it).

Errors: :func:`fail` prints ``commgate: <message>`` and gives the exit to raise; :func:`guarded`
turns our own errors (and, as one line, anything unexpected) into that, with the traceback only
under ``--debug``.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer
from sqlalchemy import Select, select

from gateway.app import App, build_app
from gateway.config.settings import ProjectConfig, Settings, load_settings
from gateway.errors import GatewayError
from gateway.observe.logs import setup_logging
from gateway.store.audit_models import ConnectorDelivery
from gateway.store.notify_models import OutboxMail

T = TypeVar("T")


@dataclass
class Options:
    config: Path | None
    debug: bool
    verbose: bool = False


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"commgate: {message}", err=True)
    return typer.Exit(code)


def one_line(exc: BaseException) -> str:
    """An unexpected error as one line: its type and the first line of its message."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def guarded(ctx: typer.Context, body: Callable[[], T]) -> T:
    """Run ``body``, turning our own errors into one line on stderr and exit status 2.

    Anything else that escapes is a bug or a broken database: still one line (its type and
    first line) and exit 2, with the traceback only under ``--debug``.
    """
    opts: Options = ctx.obj
    try:
        return body()
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except GatewayError as exc:
        if opts.debug:
            raise
        raise fail(str(exc)) from None
    except Exception as exc:  # the command line never shows a traceback
        if opts is not None and opts.debug:
            raise
        raise fail(f"unexpected error: {one_line(exc)} (run with --debug for the traceback)"
                   ) from None


def choose(option: str, value: str | None, valid: Sequence[str]) -> str | None:
    """``value`` when it is one of ``valid`` (or not given); else exit 2 with one line that
    names the valid values — never an empty listing for a misspelt filter."""
    if value is None or value in valid:
        return value
    raise fail(f"{option} {value}: not a valid value; use one of {', '.join(valid)}")


def log_file_of(settings: Settings) -> Path:
    """Where ordinary commands write their log (``--verbose`` also shows it on stderr)."""
    return Path(settings.data_dir) / "commgate.log"


def settings_of(ctx: typer.Context) -> Settings:
    opts: Options = ctx.obj
    return guarded(ctx, lambda: load_settings(opts.config))


def open_app(ctx: typer.Context, *, migrate: bool = True, service: bool = False) -> App:
    """Settings + database, for commands that work on stored data.

    Services (``service=True``: serve, worker, scheduler) log on stderr as configured. Other
    commands print results: their log goes to ``<data_dir>/commgate.log``, and stderr shows
    warnings and errors only, or everything with ``--verbose``.
    """
    settings = settings_of(ctx)
    opts: Options = ctx.obj
    if service:
        setup_logging(settings.gateway, debug=opts.debug)
    else:
        setup_logging(settings.gateway, debug=opts.debug,
                      console="INFO" if opts.verbose else "WARNING",
                      log_file=log_file_of(settings))

    def build() -> App:
        try:
            return build_app(settings, migrate=migrate)
        except GatewayError:
            raise
        except Exception as exc:  # the database is unreachable or refuses us
            if ctx.obj.debug:
                raise
            url = settings.database_url.split("@")[-1]
            raise fail(f"cannot open the database ({url}): {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0] if str(exc) else ''}") from None

    return guarded(ctx, build)


def wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT (the long-running commands: worker, scheduler)."""
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        logging.getLogger("gateway").info("signal %s: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not stop.wait(1.0):
        pass


def project_of(ctx: typer.Context, gw: App, project: str) -> ProjectConfig:
    """The project named by ``--project``; an unknown one is one line and exit 2."""
    return guarded(ctx, lambda: gw.settings.project(project))


def open_project(ctx: typer.Context, project: str) -> tuple[App, ProjectConfig]:
    """The gateway and the project named by ``--project`` (the caller closes the app; it is
    closed here when the project is unknown)."""
    gw = open_app(ctx)
    try:
        return gw, project_of(ctx, gw, project)
    except BaseException:
        gw.close()
        raise


def print_json(data: object) -> None:
    """``--json`` output: indented, non-ASCII kept (names and subjects stay readable)."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def print_rows(rows: Sequence[dict[str, Any]], *, as_json: bool, empty: str, header: str,
               line: Callable[[dict[str, Any]], str]) -> None:
    """A list command's output: the rows as JSON; else ``empty`` when there are none, or
    ``header`` and one ``line(row)`` per row."""
    if as_json:
        print_json(rows)
        return
    if not rows:
        typer.echo(empty)
        return
    typer.echo(header)
    for row in rows:
        typer.echo(line(row))


Listed = TypeVar("Listed", ConnectorDelivery, OutboxMail)


def newest(ctx: typer.Context, gw: App, model: type[Listed], *, project: str | None,
           state: str | None, limit: int) -> Select[Listed]:
    """The query of a list command over deliveries: newest first, optionally of one project
    and in one state."""
    query = select(model).order_by(model.id.desc()).limit(limit)
    if project:
        project_of(ctx, gw, project)
        query = query.where(model.project_id == gw.project_ids[project])
    if state:
        query = query.where(model.state == state)
    return query
