"""The ``commgate`` command line. Every command loads the configuration once, validates it, and
reports any problem as one line (file, key, hint) with a non-zero exit — never a traceback unless
``--debug`` is given.

Command groups live beside their stage (``gateway/cli/records.py``,
``gateway/cli/parse.py``, …); this module holds the global options, start-up, and the
commands that run the gateway.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from gateway.cli.help import PlainCommand, PlainGroup, PlainRoot
from gateway.errors import GatewayError

app = typer.Typer(add_completion=False, no_args_is_help=True, cls=PlainRoot,
                  help="commgate — the communication gateway (通信网关).")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")

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


def log_file_of(settings: Any) -> Path:
    """Where ordinary commands write their log (``--verbose`` also shows it on stderr)."""
    return Path(settings.data_dir) / "commgate.log"


def settings_of(ctx: typer.Context) -> Any:
    from gateway.config.settings import load_settings

    opts: Options = ctx.obj
    return guarded(ctx, lambda: load_settings(opts.config))


def open_app(ctx: typer.Context, *, migrate: bool = True, service: bool = False) -> Any:
    """Settings + database, for commands that work on stored data.

    Services (``service=True``: serve, worker, scheduler) log on stderr as configured. Other
    commands print results: their log goes to ``<data_dir>/commgate.log``, and stderr shows
    warnings and errors only, or everything with ``--verbose``.
    """
    from gateway.app import build_app
    from gateway.runtime.logs import setup_logging

    settings = settings_of(ctx)
    opts: Options = ctx.obj
    if service:
        setup_logging(settings.gateway, debug=opts.debug)
    else:
        setup_logging(settings.gateway, debug=opts.debug,
                      console="INFO" if opts.verbose else "WARNING",
                      log_file=log_file_of(settings))

    def build() -> Any:
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


def wait_for_signal() -> None:
    stop = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        logging.getLogger("gateway").info("signal %s: shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    while not stop.wait(1.0):
        pass


@app.command()
def serve(ctx: typer.Context) -> None:
    """Run the gateway: SMTP listener, recovery sweep, and in-process workers when embedded."""
    from gateway.jobs.actors import make_jobs
    from gateway.runtime.ops import start_ops
    from gateway.runtime.reload import reload_settings, serve_until_stopped
    from gateway.runtime.server import Server

    gw = open_app(ctx, service=True)
    _warn_from_line_trust(gw.settings, to_log=True)
    jobs = make_jobs(gw.settings.gateway.broker_url)
    server = Server(gw, jobs, run_workers=jobs.embedded)
    guarded(ctx, server.start)

    def listening() -> bool:
        return server.accepting_mail()

    try:  # /healthz and /metrics (docs/operations.md)
        ops = guarded(ctx, lambda: start_ops(gw, smtp_listening=listening))
    except BaseException:
        server.stop()
        gw.close()
        raise
    mode = "embedded (in-process jobs)" if jobs.embedded else "front end (jobs to broker)"
    typer.echo(f"commgate serving {len(gw.settings.projects)} project(s), {mode}; "
               f"SMTP {gw.settings.gateway.smtp.host}:{server.smtp_port}; "
               f"ops {ops.url if ops else 'off'}; "
               f"database {gw.settings.database_url.split('@')[-1]}; "
               f"outbox {gw.settings.outbox_dir}. Ctrl-C stops, SIGHUP reloads.", err=True)
    try:
        serve_until_stopped(lambda: reload_settings(gw, ctx.obj.config, debug=ctx.obj.debug))
    finally:
        if ops is not None:
            ops.stopping = True  # /healthz says 503 while the listener drains
        server.stop()
        jobs.broker.close()  # the broker's connections, once nothing enqueues any more
        if ops is not None:
            ops.stop()
        gw.close()


@app.command()
def worker(ctx: typer.Context,
           threads: Annotated[int | None, typer.Option(help="Worker threads.")] = None) -> None:
    """Run job workers against the configured broker (production)."""
    from gateway.jobs.actors import bind, make_jobs, sweep
    from gateway.runtime.ops import start_role_ops

    gw = open_app(ctx, service=True)
    if not gw.settings.gateway.broker_url:
        raise fail("no broker_url configured: in the embedded default `commgate serve` runs "
                   "the workers itself (set COMMGATE_BROKER_URL=redis://… for separate workers)")
    jobs = make_jobs(gw.settings.gateway.broker_url)
    bind(gw)
    ops = guarded(ctx, lambda: start_role_ops(gw, "worker"))
    w = jobs.worker(threads or gw.settings.gateway.worker_threads)
    w.start()
    guarded(ctx, lambda: sweep(gw, jobs))
    where = f" Metrics on {ops.url}/metrics." if ops is not None else ""
    typer.echo(f"commgate worker running.{where} Ctrl-C stops.", err=True)
    try:
        wait_for_signal()
    finally:
        w.stop()
        if ops is not None:
            ops.stop()
        gw.close()


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or upgrade the database schema (Alembic)."""
    gw = open_app(ctx, migrate=True)
    typer.echo(f"database at head: {gw.settings.database_url.split('@')[-1]}")
    gw.close()


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m", help="What changed.")]
                ) -> None:
    """For developers: write a new Alembic revision from the difference between the models and
    the migrations (compared on a scratch SQLite database)."""
    import tempfile

    from alembic import command

    from gateway.store.db import alembic_config, make_engine, upgrade

    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{scratch}/revision.db")
        upgrade(engine)
        command.revision(alembic_config(engine), message=message, autogenerate=True)
        engine.dispose()


@app.command("check-config")
def check_config(ctx: typer.Context) -> None:
    """Validate the gateway file and every project file."""
    settings = settings_of(ctx)
    typer.echo(f"{settings.config_path}: OK (domain {settings.gateway.domain})")
    for code, project in sorted(settings.projects.items()):
        typer.echo(f"  project {code}: {project.address}, {len(project.members)} members, "
                   f"{len(project.stakeholders)} stakeholders, {len(project.matrix)} matrix rows")
    _warn_from_line_trust(settings)


def _warn_from_line_trust(settings: Any, *, to_log: bool = False) -> None:
    """Say loudly, once, which projects trust replies by their From line alone: on stderr
    (``check-config``) or as a WARNING in the log (``serve``)."""
    from gateway.receipts.auth import from_line_warnings

    for line in from_line_warnings(settings.projects[c] for c in sorted(settings.projects)):
        if to_log:
            logging.getLogger("gateway.receipts.auth").warning("%s", line.removeprefix("WARNING: "))
        else:
            typer.echo(line, err=True)


# The command groups that live beside their stage; each module has ``register(app)``.
COMMAND_MODULES = (
    "gateway.cli.ingest", "gateway.cli.messages", "gateway.cli.records",
    "gateway.cli.threads", "gateway.cli.parse", "gateway.cli.receipts",
    "gateway.cli.classify", "gateway.cli.plan", "gateway.cli.notify",
    "gateway.cli.suppressions",
    "gateway.cli.reports", "gateway.cli.audit", "gateway.cli.connectors",
    "gateway.cli.demo",
)


def _guard(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Every command body runs as if in :func:`guarded`: one line and exit 2 on failure."""
    import functools

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
    import importlib

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(app)
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
