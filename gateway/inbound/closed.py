"""Which projects no longer take mail, as the RCPT hook sees them (policy 7: a closed project's
records were handed over; its address refuses new mail).

RCPT refuses a closed project's address (``550 5.2.1``, RFC 3463: mailbox disabled), so the
client learns it before sending the data. The set is read from the database at most every
``ttl`` seconds, in a thread, never on the event loop; the commit checks again (gateway/inbound/
intake.py), so a project closed in between is still refused — after DATA, as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)


def closed_reply(code: str) -> str:
    return f"550 5.2.1 Project {code} is closed and accepts no more mail"


class ClosedProjects:
    """Ids of projects whose intake is closed, cached for ``ttl`` seconds."""

    def __init__(self, engine: Engine, *, ttl: float = 2.0) -> None:
        self._engine = engine
        self._ttl = ttl
        self._ids: frozenset[int] = frozenset()
        self._read_at = float("-inf")

    async def ids(self, executor: Executor | None) -> frozenset[int]:
        if time.monotonic() - self._read_at < self._ttl:
            return self._ids
        loop = asyncio.get_running_loop()
        try:
            self._ids = await loop.run_in_executor(executor, self._read)
        except Exception as exc:  # noqa: BLE001 - the database is down: DATA answers 451
            log.debug("closed projects not read (%s); the commit checks again", exc)
        self._read_at = time.monotonic()
        return self._ids

    def _read(self) -> frozenset[int]:
        with self._engine.connect() as conn:
            return frozenset(row[0] for row in conn.exec_driver_sql(
                "SELECT id FROM projects WHERE NOT intake_open"))
