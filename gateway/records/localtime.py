"""Times as people read them: in the project's time zone, ISO 8601 with the offset.

The database keeps UTC; everything a person or a script reads (``records show``, search, CSV and
JSON exports, connector payloads, mail bodies and ``Date:`` headers) is shown in the project's
``timezone`` (default Asia/Shanghai), e.g. ``2026-09-30T09:30:00+08:00`` (issue 21).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo


def local(moment: datetime, zone: ZoneInfo | None) -> datetime:
    """``moment`` in ``zone`` (a naive value is taken as UTC, as the database stores it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone) if zone is not None else moment


def local_iso(moment: datetime | None, zone: ZoneInfo | None) -> str | None:
    """ISO 8601 with the zone's offset, or None."""
    return None if moment is None else local(moment, zone).isoformat()


def localize_iso_text(value: Any, zone: ZoneInfo | None) -> Any:
    """An ISO timestamp string (as stored in JSON history) moved into ``zone``; other values
    unchanged."""
    if not isinstance(value, str) or zone is None or len(value) < 19 or value[10:11] != "T":
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return local(moment, zone).isoformat() if moment.tzinfo is not None else value
