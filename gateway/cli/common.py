"""What every command shares: the global options, one-line errors, and opening the gateway.

The command modules (``gateway/cli/records.py``, ``gateway/cli/receipts.py``, …) are thin:
parse options → call a domain function → print. They take these helpers from here, never from
gateway/cli/main.py (which imports every command module to register it).

Errors: :func:`fail` prints ``commgate: <message>`` and gives the exit to raise; :func:`guarded`
turns our own errors (and, as one line, anything unexpected) into that, with the traceback only
under ``--debug``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import typer

from gateway.app import App, build_app
from gateway.config.settings import Settings, load_settings
from gateway.errors import GatewayError
from gateway.runtime.logs import setup_logging

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
