"""Business time for the ``receipts`` stage: when a confirmation is due, and how late it is.

Deadlines in the policy (4.3, "timely by urgency") run on the company's business clock, not the
wall clock: working hours on working days in the project's time zone (Asia/Shanghai by default).
A working day is a Monday–Friday that is not a Chinese public holiday, or a weekend day that is an
official make-up working day (调休), as the ``chinesecalendar`` package knows them; the project
config can add extra holidays and extra working days, and those always win over the package.

``chinesecalendar`` only knows the years whose schedule the State Council has already published
(1.11.0: 2004–2026; it raises ``NotImplementedError`` outside). For any other year this module
falls back to "Monday–Friday, plus the config overrides" and logs one warning per year and
calendar, so a deadline running into January of an unpublished year still gets computed — the
project config is where next year's 元旦/春节 dates go until the package catches up.

Conventions, chosen so deadline arithmetic is associative and results are easy to read:

* Working hours are closed intervals per day (e.g. ``[09:00, 18:00]``, or ``[09:00, 12:00]`` and
  ``[13:00, 18:00]`` with a lunch break). The clock *runs* in ``[open, close)``.
* :meth:`BusinessCalendar.add_business_time` returns the **earliest** instant at which the given
  amount of business time has elapsed, so a deadline that uses up a day's last hour is that day's
  closing time (Fri 17:00 + 1 h = Fri 18:00, not Mon 09:00). A start outside working hours starts
  counting at the next opening. Adding zero returns the start if it is inside working hours, else
  the next opening. Hence ``add(add(t, a), b) == add(t, a + b)``.
* "N working days" (:meth:`BusinessCalendar.add_business_days`) means the same clock time on the
  N-th next working day, a start outside working hours (or exactly at an opening) being clamped
  to the closing time before it. Because every working day has the same hours, that is exactly
  ``N × working_day_length`` of business time (9 h with the defaults) and that is how it is
  computed: Mon 10:30 + 1 day = Tue 10:30, Fri 20:00 + 1 day = Mon 18:00 (the next working day's
  close), Sat 11:00 + 1 day = Mon 18:00, Mon 09:00 + 1 day = Mon 18:00. So "urgent = 4 working
  hours, normal = 1 working day" needs no second kind of arithmetic: ``days=1`` ≡ ``hours=9``.
* Times within a day are wall-clock times; for zones with daylight saving time a transition that
  falls inside working hours is not corrected for (none of the zones we serve has one).

Everything takes aware datetimes in any zone and returns datetimes in the calendar's zone; nothing
here reads the clock. Arithmetic steps by whole days (integer microseconds, no per-minute loops).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

__all__ = ["DEFAULT_TIME_ZONE", "BusinessCalendar"]

logger = logging.getLogger(__name__)

DEFAULT_TIME_ZONE = "Asia/Shanghai"
_US_PER_SECOND = 1_000_000
_ONE_DAY = timedelta(days=1)
# A calendar whose overrides leave no working day for ten years is a configuration mistake; stop
# instead of looping forever.
_MAX_IDLE_DAYS = 3660

_Segment = tuple[int, int]  # [start, end] in microseconds since local midnight


def _us_of(clock: time) -> int:
    seconds = (clock.hour * 60 + clock.minute) * 60 + clock.second
    return seconds * _US_PER_SECOND + clock.microsecond


def _us_of_delta(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * _US_PER_SECOND + delta.microseconds


def _parse_clock(value: str, what: str) -> time:
    text = value.strip()
    for parse in (time.fromisoformat, lambda v: datetime.strptime(v, "%H:%M").time()):
        try:
            return parse(text)
        except ValueError:
            continue
    raise ValueError(f"{what}: {value!r} is not a time of day like '09:00'")


def _parse_dates(values: Iterable[str | date], what: str) -> frozenset[date]:
    out: set[date] = set()
    for value in values:
        if isinstance(value, date):
            out.add(value)
            continue
        try:
            out.add(date.fromisoformat(value.strip()))
        except ValueError:
            raise ValueError(f"{what}: {value!r} is not an ISO date like '2027-01-01'") from None
    return frozenset(out)


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours and working days of one project; see the module docstring for conventions."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIME_ZONE))
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    lunch: tuple[time, time] | None = None
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    official_holidays: bool = True  # False: weekends + overrides only, never ask chinesecalendar

    _segments: tuple[_Segment, ...] = field(init=False, repr=False, compare=False)
    _day_us: int = field(init=False, repr=False, compare=False)
    _days: dict[date, bool] = field(default_factory=dict, init=False, repr=False, compare=False)
    _warned: set[int] = field(default_factory=set, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                  compare=False)

    def __post_init__(self) -> None:
        for name in ("opens", "closes"):
            if getattr(self, name).tzinfo is not None:
                raise ValueError(f"{name} must be a wall-clock time without a time zone")
        opens, closes = _us_of(self.opens), _us_of(self.closes)
        if opens >= closes:
            raise ValueError(
                f"working hours must open before they close: {self.opens}–{self.closes}")
        segments: tuple[_Segment, ...] = ((opens, closes),)
        if self.lunch is not None:
            start, end = _us_of(self.lunch[0]), _us_of(self.lunch[1])
            if not opens < start < end < closes:
                raise ValueError(f"the lunch break {self.lunch[0]}–{self.lunch[1]} must lie "
                                 f"strictly inside working hours {self.opens}–{self.closes}")
            segments = ((opens, start), (end, closes))
        both = self.extra_holidays & self.extra_workdays
        if both:
            listed = ", ".join(sorted(d.isoformat() for d in both))
            raise ValueError(f"dates listed both as extra holiday and extra workday: {listed}")
        object.__setattr__(self, "_segments", segments)
        object.__setattr__(self, "_day_us", sum(end - start for start, end in segments))

    @classmethod
    def from_config(cls, *, time_zone: str = DEFAULT_TIME_ZONE, opens: str = "09:00",
                    closes: str = "18:00", lunch_start: str | None = None,
                    lunch_end: str | None = None,
                    extra_holidays: Iterable[str | date] = (),
                    extra_workdays: Iterable[str | date] = (),
                    official_holidays: bool = True) -> BusinessCalendar:
        """Build a calendar from plain config values; raises ``ValueError`` naming the bad value."""
        try:
            zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone: unknown time zone {time_zone!r} "
                             "(use an IANA name such as 'Asia/Shanghai')") from None
        if (lunch_start is None) != (lunch_end is None):
            raise ValueError("lunch_start and lunch_end must be given together")
        lunch = None
        if lunch_start is not None and lunch_end is not None:
            lunch = (_parse_clock(lunch_start, "lunch_start"), _parse_clock(lunch_end, "lunch_end"))
        return cls(zone=zone, opens=_parse_clock(opens, "opens"),
                   closes=_parse_clock(closes, "closes"), lunch=lunch,
                   extra_holidays=_parse_dates(extra_holidays, "extra_holidays"),
                   extra_workdays=_parse_dates(extra_workdays, "extra_workdays"),
                   official_holidays=official_holidays)

    @property
    def working_day_length(self) -> timedelta:
        """Business time in one working day (9 h with the defaults)."""
        return timedelta(microseconds=self._day_us)

    # --- working days -------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is a working day (an aware datetime is taken in the calendar's zone)."""
        if isinstance(day, datetime):
            day = self._local(day)[0]
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._decide(day)
        return known

    def _decide(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self.official_holidays:
            try:
                return bool(chinese_calendar.is_workday(day))
            except NotImplementedError:
                self._warn_unknown_year(day.year)
        return day.weekday() < 5

    def _warn_unknown_year(self, year: int) -> None:
        with self._lock:
            if year in self._warned:
                return
            self._warned.add(year)
        logger.warning("chinesecalendar has no public holidays for %d; working days in %d are "
                       "Monday–Friday plus the configured extra_holidays/extra_workdays",
                       year, year)

    # --- the clock ----------------------------------------------------------------------------

    def _local(self, t: datetime) -> tuple[date, int]:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t.isoformat()}: pass an aware datetime")
        local = t.astimezone(self.zone)
        us = ((local.hour * 60 + local.minute) * 60 + local.second) * _US_PER_SECOND
        return local.date(), us + local.microsecond

    def _at(self, day: date, us: int) -> datetime:
        seconds, micro = divmod(us, _US_PER_SECOND)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=self.zone)

    def _elapsed(self, us: int) -> int:
        """Business time of a working day that has passed at clock ``us``."""
        done = 0
        for start, end in self._segments:
            if us <= start:
                break
            done += min(us, end) - start
        return done

    def _clock_after(self, elapsed: int) -> int:
        """Earliest clock at which ``elapsed`` (0 < elapsed ≤ day length) business time is used."""
        for start, end in self._segments:
            if elapsed <= end - start:
                return start + elapsed
            elapsed -= end - start
        raise AssertionError("elapsed beyond the working day")  # pragma: no cover

    def _next_working_day(self, day: date) -> date:
        for _ in range(_MAX_IDLE_DAYS):
            day += _ONE_DAY
            if self.is_working_day(day):
                return day
        raise ValueError(f"no working day within {_MAX_IDLE_DAYS} days after {day}: check the "
                         "calendar's extra_holidays")

    def next_opening(self, t: datetime) -> datetime:
        """``t`` itself if the business clock runs at ``t``, else the next instant it starts."""
        day, us = self._local(t)
        if self.is_working_day(day):
            for start, end in self._segments:
                if us < start:
                    return self._at(day, start)
                if us < end:
                    return t.astimezone(self.zone)
        return self._at(self._next_working_day(day), self._segments[0][0])

    def is_open(self, t: datetime) -> bool:
        """Whether ``t`` lies within working hours, a closing instant included."""
        day, us = self._local(t)
        return self.is_working_day(day) and any(s <= us <= e for s, e in self._segments)

    def add_business_time(self, start: datetime, delta: timedelta) -> datetime:
        """The earliest instant by which ``delta`` of business time has passed since ``start``."""
        remaining = _us_of_delta(delta)
        if remaining < 0:
            raise ValueError(f"negative business time {delta}")
        if remaining == 0:
            return start.astimezone(self.zone) if self.is_open(start) else self.next_opening(start)
        day, us = self._local(start)
        if self.is_working_day(day):
            left_today = self._day_us - self._elapsed(us)
            if remaining <= left_today:
                return self._at(day, self._clock_after(self._day_us - left_today + remaining))
            remaining -= left_today
        while True:
            day = self._next_working_day(day)
            if remaining <= self._day_us:
                return self._at(day, self._clock_after(remaining))
            remaining -= self._day_us

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """Same clock time on the ``days``-th next working day (see the module docstring)."""
        if days < 0:
            raise ValueError(f"negative number of working days: {days}")
        return self.add_business_time(start, timedelta(microseconds=days * self._day_us))

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Business time from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        if b < a:
            return -self.business_time_between(b, a)
        day_a, us_a = self._local(a)
        day_b, us_b = self._local(b)
        if day_a == day_b:
            if not self.is_working_day(day_a):
                return timedelta(0)
            return timedelta(microseconds=self._elapsed(us_b) - self._elapsed(us_a))
        total = self._day_us - self._elapsed(us_a) if self.is_working_day(day_a) else 0
        day = day_a + _ONE_DAY
        while day < day_b:
            if self.is_working_day(day):
                total += self._day_us
            day += _ONE_DAY
        if self.is_working_day(day_b):
            total += self._elapsed(us_b)
        return timedelta(microseconds=total)
