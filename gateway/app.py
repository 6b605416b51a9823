"""The running gateway's resources, built once from Settings and passed explicitly.

``App`` owns the database engine, the session factory, the raw store and the clock. Actors and
listeners receive it; nothing reaches for globals except the job actors, which look it up through
:func:`gateway.jobs.actors.current_app` because dramatiq hands them only ids.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.config.settings import Settings, make_private_dir
from gateway.store.db import make_engine, make_sessionmaker, unit_of_work, upgrade
from gateway.store.models import Project
from gateway.store.raw import RawStore
from gateway.store.schema import metadata as _all_tables  # noqa: F401 - maps every model

log = logging.getLogger(__name__)


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    raw: RawStore
    clock: Callable[[], datetime] = system_clock
    project_ids: dict[str, int] = field(default_factory=dict)

    def close(self) -> None:
        self.engine.dispose()


def build_app(settings: Settings, *, migrate: bool = True,
              clock: Callable[[], datetime] = system_clock) -> App:
    """Connect to the database (upgrading the schema when asked) and register the projects."""
    make_private_dir(settings.data_dir)
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    app = App(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
              raw=RawStore(settings.data_dir / "raw", engine=engine,
                           inline_max=settings.gateway.raw_inline_max), clock=clock)
    sync_projects(app)
    return app


def sync_projects(app: App) -> None:
    """Make sure every configured project has its row; remember the ids."""
    with unit_of_work(app.sessions) as session:
        for code, project in app.settings.projects.items():
            row = session.scalars(select(Project).where(Project.code == code)).one_or_none()
            if row is None:
                row = Project(code=code, address=project.address, created_at=app.clock())
                session.add(row)
                session.flush()
                log.info("project %s registered (%s)", code, project.address)
            elif row.address != project.address:
                row.address = project.address
            app.project_ids[code] = row.id
