"""The ``commgate`` command line. Every command loads the configuration once, validates it, and
reports any problem as one line (file, key, hint) with a non-zero exit — never a traceback unless
``--debug`` is given.

This module holds the global options and puts the command groups together: each group lives in
a module of its own beside the stage it drives (``gateway/cli/records.py``,
``gateway/cli/parse.py``, …; the running gateway in ``gateway/cli/service.py``), shares the
helpers of ``gateway/cli/common.py``, and has ``register(app)``.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from gateway.cli import (
    audit,
    classify,
    connectors,
    demo,
    ingest,
    messages,
    notify,
    parse,
    plan,
    receipts,
    records,
    reports,
    service,
    suppressions,
    threads,
)
from gateway.cli.common import Options, guarded, one_line
from gateway.cli.help import PlainCommand, PlainGroup, PlainRoot

app = typer.Typer(add_completion=False, no_args_is_help=True, cls=PlainRoot,
                  help="commgate — the communication gateway (通信网关).")

# The command groups, in the order ``--help`` lists them.
COMMAND_MODULES = (service, ingest, messages, records, threads, parse, receipts, classify, plan,
                   notify, suppressions, reports, audit, connectors, demo)


@app.callback()
def main(ctx: typer.Context,
         config: Annotated[Path | None, typer.Option(
             "--config", "-c", envvar="COMMGATE_CONFIG",
             help="Gateway file (default: config/gateway.toml).")] = None,
         debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
         verbose: Annotated[bool, typer.Option(
             "--verbose", "-v",
             help="Show the gateway's log on stderr (otherwise commands print results and "
                  "log to <data_dir>/commgate.log).")] = False,
         ) -> None:
    ctx.obj = Options(config=config, debug=debug, verbose=verbose)


def _guard(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Every command body runs as if in :func:`guarded`: one line and exit 2 on failure."""

    @functools.wraps(callback)  # typer reads the signature and hints through __wrapped__
    def run_guarded(*args: Any, **kwargs: Any) -> Any:
        ctx = next((a for a in (*args, *kwargs.values()) if isinstance(a, typer.Context)), None)
        if ctx is None or not isinstance(ctx.obj, Options):
            return callback(*args, **kwargs)
        return guarded(ctx, lambda: callback(*args, **kwargs))

    return run_guarded


def _guard_all(group: typer.Typer) -> None:
    """Guard every command body, and let every help page name types in words."""
    for command in group.registered_commands:
        if command.callback is not None and not hasattr(command.callback, "__wrapped__"):
            command.callback = _guard(command.callback)
        if command.cls in (None, typer.core.TyperCommand):
            command.cls = PlainCommand
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _guard_all(sub.typer_instance)
            if not isinstance(sub.cls, type):  # unset (typer's Default placeholder)
                sub.cls = PlainGroup


def _register_commands() -> None:
    for module in COMMAND_MODULES:
        module.register(app)
    _guard_all(app)


_register_commands()


def run() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # outside any command: still one line, exit 2
        if "--debug" in sys.argv[1:]:
            raise
        typer.echo(f"commgate: unexpected error: {one_line(exc)} "
                   "(run with --debug for the traceback)", err=True)
        sys.exit(2)
