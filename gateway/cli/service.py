"""``commgate serve|worker|check-config|db upgrade|db revision``: the commands that run the
gateway and look after its configuration and schema.

``serve`` is the SMTP front end (with in-process workers when embedded), ``worker`` the job
workers against a broker; ``commgate scheduler`` lives with the receipts commands
(gateway/cli/receipts.py). Each opens the gateway through gateway/cli/common.py.
"""

from __future__ import annotations

import logging
import tempfile
from typing import Annotated

import typer

from gateway.cli.common import fail, guarded, open_app, settings_of, wait_for_signal
from gateway.config.settings import Settings
from gateway.receipts.auth import from_line_warnings
from gateway.store.db import alembic_config, make_engine, upgrade

db_app = typer.Typer(no_args_is_help=True, help="Database schema.")


def serve(ctx: typer.Context) -> None:
    """Run the gateway: SMTP listener, recovery sweep, and in-process workers when embedded."""
    # Loaded by the commands that run it: the service stack (aiosmtpd, dramatiq, imapclient,
    # prometheus) at module level would slow every command's start, `commgate --help` too.
    from gateway.jobs.actors import make_jobs
    from gateway.runtime.ops import start_ops
    from gateway.runtime.reload import Signals, reload_settings, serve_until_stopped
    from gateway.runtime.server import Server

    signals = Signals().install()  # a stop asked for while starting is a clean stop once up
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
        serve_until_stopped(lambda: reload_settings(gw, ctx.obj.config, debug=ctx.obj.debug),
                            signals)
    finally:
        if ops is not None:
            ops.stopping = True  # /healthz says 503 while the listener drains
        server.stop()
        jobs.broker.close()  # the broker's connections, once nothing enqueues any more
        if ops is not None:
            ops.stop()
        gw.close()


def worker(ctx: typer.Context,
           threads: Annotated[int | None, typer.Option(help="Worker threads.")] = None) -> None:
    """Run job workers against the configured broker (production)."""
    # Loaded by the commands that run it: the service stack (aiosmtpd, dramatiq, imapclient,
    # prometheus) at module level would slow every command's start, `commgate --help` too.
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
    # A developer's command: Alembic's autogenerate (and mako) would add a third of a second
    # to every other command's start, so it is loaded here.
    from alembic import command

    with tempfile.TemporaryDirectory() as scratch:
        engine = make_engine(f"sqlite:///{scratch}/revision.db")
        upgrade(engine)
        command.revision(alembic_config(engine), message=message, autogenerate=True)
        engine.dispose()


def check_config(ctx: typer.Context) -> None:
    """Validate the gateway file and every project file."""
    settings = settings_of(ctx)
    typer.echo(f"{settings.config_path}: OK (domain {settings.gateway.domain})")
    for code, project in sorted(settings.projects.items()):
        typer.echo(f"  project {code}: {project.address}, {len(project.members)} members, "
                   f"{len(project.stakeholders)} stakeholders, {len(project.matrix)} matrix rows")
    _warn_from_line_trust(settings)


def _warn_from_line_trust(settings: Settings, *, to_log: bool = False) -> None:
    """Say loudly, once, which projects trust replies by their From line alone: on stderr
    (``check-config``) or as a WARNING in the log (``serve``)."""
    for line in from_line_warnings(settings.projects[c] for c in sorted(settings.projects)):
        if to_log:
            logging.getLogger("gateway.receipts.auth").warning("%s", line.removeprefix("WARNING: "))
        else:
            typer.echo(line, err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command()(serve)
    app.command()(worker)
    app.command("check-config")(check_config)
