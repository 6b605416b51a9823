"""Report periods and schedules: pure date arithmetic in the project's time zone.

A period is a half-open interval ``[start, end)`` of aware datetimes, computed from local
midnights (Asia/Shanghai has no DST, but other zones may), named ``2026-W48`` (ISO week),
``2026-11`` (month) or ``2026-11-01..2026-11-15`` (inclusive dates).

A matrix row's ``frequency`` is a schedule (docs/notify.md):

    daily [HH:MM]                          due every day at HH:MM (default 18:00)
    weekly [mon|tue|…|sun] [HH:MM]         due on that weekday (default fri 18:00), for its ISO week
    monthly [D|wdN] [HH:MM]                due on day D or the Nth working day (default wd3 09:00)
                                           of the following month, for the month before
    anything else (immediately, on demand) is not scheduled
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# The frequency words are checked where the project file is read; they are used here.
from gateway.config.project import FREQUENCY_FORMS as FREQUENCY_FORMS
from gateway.config.project import UNSCHEDULED as UNSCHEDULED
from gateway.config.project import check_frequency as check_frequency

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Period:
    key: str
    start: datetime
    end: datetime  # exclusive

    @property
    def last_day(self) -> date:
        """The last calendar day inside the period (for display)."""
        return (self.end - timedelta(days=1)).date()

    def days(self) -> list[date]:
        first = self.start.date()
        count = (self.end.date() - first).days
        return [first + timedelta(days=i) for i in range(max(count, 0))]


@dataclass(frozen=True)
class Schedule:
    every: str  # daily | weekly | monthly
    at: time
    weekday: int = 4  # weekly: 0 = Monday
    day: int = 0  # monthly: day of month (0: use working_day)
    working_day: int = 3  # monthly: the Nth working day of the following month


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def week(year: int, number: int, zone: ZoneInfo) -> Period:
    monday = date.fromisocalendar(year, number, 1)
    return Period(f"{year}-W{number:02d}", _midnight(monday, zone),
                  _midnight(monday + timedelta(days=7), zone))


def month(year: int, number: int, zone: ZoneInfo) -> Period:
    first = date(year, number, 1)
    following = date(year + (number == 12), number % 12 + 1, 1)
    return Period(f"{year}-{number:02d}", _midnight(first, zone), _midnight(following, zone))


PERIOD_FORMATS = "2026-11 (a month), 2026-W49 (an ISO week) or 2026-11-01..2026-11-15 (days)"


def parse_period(text: str, zone: ZoneInfo) -> Period:
    """``2026-W48`` | ``2026-11`` | ``2026-11-01..2026-11-15``; otherwise a ValueError whose
    one line names the valid formats."""
    text = text.strip()
    try:
        if m := re.fullmatch(r"(\d{4})-W(\d{1,2})", text, re.I):
            return week(int(m[1]), int(m[2]), zone)
        if m := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
            return month(int(m[1]), int(m[2]), zone)
        if m := re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text):
            first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if last < first:
                raise ValueError(f"period {text}: ends before it starts")
            return Period(text, _midnight(first, zone),
                          _midnight(last + timedelta(days=1), zone))
    except ValueError as exc:
        if "ends before" in str(exc):
            raise
        raise ValueError(f"period {text!r}: no such month, week or day ({exc}); use "
                         f"{PERIOD_FORMATS}") from None
    raise ValueError(f"period {text!r}: not a period; use {PERIOD_FORMATS}")


def week_of(moment: datetime, zone: ZoneInfo) -> Period:
    year, number, _ = moment.astimezone(zone).isocalendar()
    return week(year, number, zone)


def month_of(moment: datetime, zone: ZoneInfo) -> Period:
    local = moment.astimezone(zone)
    return month(local.year, local.month, zone)


def parse_frequency(text: str) -> Schedule | None:
    words = text.strip().lower().split()
    if not words or words[0] not in ("daily", "weekly", "monthly"):
        return None
    at = next((time.fromisoformat(w) for w in words[1:] if re.fullmatch(r"\d{1,2}:\d{2}", w)),
              None)
    if words[0] == "daily":
        return Schedule("daily", at or time(18))
    if words[0] == "weekly":
        day = next((WEEKDAYS.index(w[:3]) for w in words[1:] if w[:3] in WEEKDAYS), 4)
        return Schedule("weekly", at or time(18), weekday=day)
    sched = Schedule("monthly", at or time(9))
    for w in words[1:]:
        if m := re.fullmatch(r"wd(\d{1,2})", w):
            return Schedule("monthly", sched.at, working_day=int(m[1]))
        if w.isdigit():
            return Schedule("monthly", sched.at, day=int(w), working_day=0)
    return sched


def is_workday(day: date) -> bool:
    """A Chinese working day (holidays, make-up days); Mon–Fri for years the library lacks."""
    try:
        import chinese_calendar

        return bool(chinese_calendar.is_workday(day))
    except (NotImplementedError, ImportError):
        return day.weekday() < 5


def nth_working_day(year: int, number: int, n: int) -> date:
    day, seen = date(year, number, 1), 0
    while True:
        if is_workday(day):
            seen += 1
            if seen == n:
                return day
        day += timedelta(days=1)


def due_time(schedule: Schedule, period: Period, zone: ZoneInfo) -> datetime:
    """When the communication for ``period`` is due."""
    if schedule.every == "daily":
        return datetime.combine(period.start.date(), schedule.at, tzinfo=zone)
    if schedule.every == "weekly":
        day = period.start.date() + timedelta(days=schedule.weekday)
        return datetime.combine(day, schedule.at, tzinfo=zone)
    following = period.end.date()
    if schedule.day:
        day = following.replace(day=min(schedule.day, 28))
    else:
        day = nth_working_day(following.year, following.month, schedule.working_day)
    return datetime.combine(day, schedule.at, tzinfo=zone)


def latest_due(schedule: Schedule, now: datetime, zone: ZoneInfo) -> tuple[Period, datetime]:
    """The most recent period whose due time has passed at ``now``."""
    local = now.astimezone(zone)
    if schedule.every == "daily":
        day = local.date()
        period = Period(day.isoformat(), _midnight(day, zone),
                        _midnight(day + timedelta(days=1), zone))
        step = timedelta(days=1)
    elif schedule.every == "weekly":
        period, step = week_of(now, zone), timedelta(days=7)
    else:
        period, step = month_of(now, zone), timedelta(days=0)
    for _ in range(3):
        due = due_time(schedule, period, zone)
        if due <= now:
            return period, due
        if schedule.every == "monthly":
            prev = period.start - timedelta(days=1)
            period = month(prev.year, prev.month, zone)
        else:
            start = period.start - step
            period = (week_of(start, zone) if schedule.every == "weekly" else
                      Period(start.date().isoformat(), start, period.start))
    return period, due_time(schedule, period, zone)
