"""Escalation planning: what the scheduler must do for one receipt request at a given moment.

Pure functions over plain data (no database, no clock): the scheduler (gateway/jobs/scheduler.py)
loads a request, asks :func:`plan` what is due, acts on it, and stores the returned state.

The ladder works as in on-call tools. Level *n* (1-based, in config order) fires
``after`` business time past the deadline, then ``repeat - 1`` more times every ``every``. The
ladder is flattened into steps in time order; a request remembers how many steps it has handled
(``steps_done``). When the scheduler was down and several steps of one level fell due, only the
latest is acted on (one mail, not a burst); steps of different levels are each acted on.

Besides mails, :func:`plan` reports the events ``due_soon`` (``deadlines.due_soon`` before the
deadline) and ``overdue`` (at the deadline); ``escalated`` is recorded by the scheduler per step.

Whom a manager level writes to (:func:`targets`): the members with that role, never the author
of the directive and never anyone still unconfirmed (policy 1.4: nobody is escalated to about
themselves). A level left with nobody passes the step on to the next manager level that has
someone — so a project manager's own directive goes straight to the O&M department manager.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.addresses import person_key
from gateway.config.escalation import BusinessDuration, EscalationConfig, Level
from gateway.config.settings import Member, ProjectConfig
from gateway.escalation.businesstime import BusinessCalendar

ROLE_OF = {"project_manager": "project_manager", "dept_manager": "dept_manager"}


@dataclass(frozen=True)
class Step:
    """One ladder step: level (1-based), repeat (0-based), whom it notifies, when it is due."""

    index: int
    level: int
    repeat: int
    notify: str
    due_at: datetime


@dataclass(frozen=True)
class Deadline:
    deadline: datetime
    due_soon_at: datetime


@dataclass(frozen=True)
class Plan:
    """What to do now for one request, and its state afterwards."""

    events: tuple[str, ...]  # "due_soon", "overdue"
    steps: tuple[Step, ...]  # to act on now (at most one per level)
    steps_done: int
    next_due_at: datetime | None


def deadline_for(config: EscalationConfig, calendar: BusinessCalendar, *, opened_at: datetime,
                 urgency: str) -> Deadline:
    """The deadline by urgency in business time, and when it is "due soon"."""
    total = config.deadline_for(urgency).length(calendar)
    lead = BusinessDuration.parse(config.deadlines.due_soon).length(calendar)
    deadline = calendar.add_business_time(opened_at, total)
    due_soon = calendar.add_business_time(opened_at, max(total - lead, timedelta(0)))
    return Deadline(deadline=deadline, due_soon_at=min(due_soon, deadline))


def ladder(levels: Sequence[Level], calendar: BusinessCalendar,
           deadline: datetime) -> list[Step]:
    """Every step of the ladder for one deadline, in time order (ties: lower level first)."""
    raw: list[tuple[datetime, int, int, str]] = []
    for number, level in enumerate(levels, start=1):
        at = BusinessDuration.parse(level.after).after(calendar, deadline)
        every = BusinessDuration.parse(level.every)
        for repeat in range(level.repeat):
            raw.append((at, number, repeat, level.notify))
            at = every.after(calendar, at)
    raw.sort(key=lambda s: (s[0], s[1], s[2]))
    return [Step(index=i, level=lvl, repeat=rep, notify=notify, due_at=at)
            for i, (at, lvl, rep, notify) in enumerate(raw)]


def plan(*, steps: Sequence[Step], steps_done: int, deadline: datetime,
         due_soon_at: datetime, due_soon_noted: bool, overdue_noted: bool,
         now: datetime) -> Plan:
    """What is due at ``now``: events to note, steps to act on, and the next time to look."""
    events: list[str] = []
    if not due_soon_noted and now >= due_soon_at:
        events.append("due_soon")
    if not overdue_noted and now >= deadline:
        events.append("overdue")
    due = [s for s in steps[steps_done:] if s.due_at <= now]
    latest: dict[int, Step] = {}
    for step in due:
        latest[step.level] = step  # a later repeat of the same level replaces an earlier one
    done = steps_done + len(due)
    upcoming: list[datetime] = []
    if not due_soon_noted and "due_soon" not in events:
        upcoming.append(due_soon_at)
    if not overdue_noted and "overdue" not in events:
        upcoming.append(deadline)
    if done < len(steps):
        upcoming.append(steps[done].due_at)
    by_level = tuple(sorted(latest.values(), key=lambda s: s.level))  # reminders first
    return Plan(events=tuple(events), steps=by_level, steps_done=done,
                next_due_at=min(upcoming) if upcoming else None)


def targets(project: ProjectConfig, notify: str, *, sender: str,
            unconfirmed: Sequence[str]) -> list[Member]:
    """Members a manager level writes to: the role, minus the author and the unconfirmed."""
    excluded = {person_key(sender), *(person_key(u) for u in unconfirmed)}
    role = ROLE_OF.get(notify)
    if role is None:
        return []
    return [m for m in project.members if m.role == role and person_key(m.email) not in excluded]


def resolve_level(project: ProjectConfig, levels: Sequence[Level], level: int, *,
                  sender: str, unconfirmed: Sequence[str]) -> tuple[int, list[Member]]:
    """The level (1-based) that actually receives a manager step, and its members.

    A level with nobody eligible passes on to the next manager level that has someone;
    ``(level, [])`` when none has (the step is then skipped).
    """
    for number in range(level, len(levels) + 1):
        notify = levels[number - 1].notify
        if notify == "recipients":
            continue
        people = targets(project, notify, sender=sender, unconfirmed=unconfirmed)
        if people:
            return number, people
    return level, []
