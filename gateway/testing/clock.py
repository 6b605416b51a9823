"""``App.clock`` for tests and the demo: a time that moves only when told, read as UTC.

The gateway asks its clock for "now" everywhere (deadlines, business time, the ladder, report
periods), so a test or the demo story sets the time instead of waiting for it. Like the system
clock (:func:`gateway.app.system_clock`), it answers in UTC whatever zone it was set in; a time
given as text (``"2026-09-30 09:30"``) is read in the clock's zone, the demo project's
Asia/Shanghai unless told otherwise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_START", "SHANGHAI", "FakeClock", "local"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEFAULT_START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Shanghai


def local(text: str, zone: tzinfo = SHANGHAI) -> datetime:
    """``"2026-11-24 10:00"`` as a time in ``zone``."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


class FakeClock:
    """A settable clock: ``clock()`` is now (UTC), ``clock.now`` the time as it was set."""

    def __init__(self, now: datetime | str = DEFAULT_START, *, zone: tzinfo = SHANGHAI) -> None:
        self.zone = zone
        self.now = self._time(now)

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)

    def set(self, now: datetime | str) -> datetime:
        """Move to ``now`` (forwards or back; text is read in the clock's zone) and return it."""
        self.now = self._time(now)
        return self.now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move on by ``delta`` or by ``hours=…, minutes=…`` and return the new time."""
        self.now += (delta or timedelta()) + timedelta(**parts)
        return self.now

    def _time(self, value: datetime | str) -> datetime:
        when = local(value, self.zone) if isinstance(value, str) else value
        if when.tzinfo is None:
            raise ValueError(f"a FakeClock needs a time with a zone, not {when!r}")
        return when
