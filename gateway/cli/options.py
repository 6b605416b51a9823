"""The options and values that several commands take, declared and parsed once.

``--project`` and ``--json`` read the same everywhere; a time given on the command line
(``--now``, ``--until``) is ISO 8601, read in the project's zone when it has no offset; a
person given with ``--by`` is a mail address. A value that does not parse is one line on
stderr and exit status 2 (gateway/cli/common.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from gateway.addresses import try_normalize
from gateway.cli.common import fail

Project = Annotated[str, typer.Option("--project", "-p", help="Project code.")]
OnlyProject = Annotated[str | None, typer.Option("--project", "-p", help="Only this project.")]
AnyProject = Annotated[str | None, typer.Option(
    "--project", "-p", help="Only this project (default: every project).")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON output.")]
AsJsonList = Annotated[bool, typer.Option("--json", help="A JSON list.")]


def parse_time(value: str, zone: ZoneInfo, *, option: str, example: str) -> datetime:
    """``value`` as an aware time (no offset: in ``zone``), or exit 2 naming ``option``."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise fail(f"{option}: {value!r} is not an ISO 8601 time like {example}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def parse_now(value: str | None, zone: ZoneInfo) -> datetime | None:
    """``--now``: the moment a command judges as of; None when not given (the clock's now)."""
    if not value:
        return None
    return parse_time(value, zone, option="--now", example="2026-11-25T10:00+08:00")


def address(by: str, option: str = "--by") -> str:
    """A person named on the command line, as a normalised mail address (or exit 2)."""
    who = try_normalize(by)
    if not who:
        raise fail(f"{option} {by!r} is not a mail address")
    return who
