"""Deadlines on the business clock: Chinese holidays, make-up days, overrides and the fallback."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.escalation.businesstime import BusinessCalendar

SH = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
URGENT = timedelta(hours=4)
NORMAL = timedelta(hours=9)
# 元旦 2027 as the project would configure it before chinesecalendar knows 2027 (hypothetical
# schedule: Fri 1 Jan off, Sat 2 Jan and Sun 3 Jan are weekend anyway).
NEW_YEAR_2027 = ["2027-01-01", "2027-01-02", "2027-01-03"]


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SH)


@pytest.fixture
def cal() -> BusinessCalendar:
    return BusinessCalendar.from_config(extra_holidays=NEW_YEAR_2027)


@pytest.fixture
def lunch_cal() -> BusinessCalendar:
    return BusinessCalendar.from_config(lunch_start="12:00", lunch_end="13:00")


# --- working days -------------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 9, 30), True),     # Wednesday before the golden week
    (date(2026, 10, 1), False),    # National Day
    (date(2026, 10, 5), False),    # Monday inside the golden week
    (date(2026, 10, 7), False),
    (date(2026, 10, 8), True),
    (date(2026, 9, 20), True),     # Sunday, make-up working day for National Day
    (date(2026, 10, 10), True),    # Saturday, make-up working day
    (date(2026, 10, 11), False),   # ordinary Sunday
    (date(2026, 2, 14), True),     # Saturday, make-up day before Spring Festival
    (date(2026, 2, 16), False),    # 除夕 week
    (date(2026, 2, 23), False),    # last day of the Spring Festival holiday (Monday)
    (date(2026, 2, 24), True),
    (date(2026, 2, 28), True),     # Saturday, make-up day after Spring Festival
    (date(2026, 3, 7), False),     # ordinary Saturday
])
def test_official_holidays_and_make_up_days_2026(
        cal: BusinessCalendar, day: date, working: bool) -> None:
    assert cal.is_working_day(day) is working


def test_year_unknown_to_chinesecalendar_falls_back_with_one_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given a calendar that configures only 元旦 2027
    cal = BusinessCalendar.from_config(extra_holidays=NEW_YEAR_2027, extra_workdays=["2027-02-20"])
    # When it is asked about many 2027 and 2028 dates
    with caplog.at_level(logging.WARNING, logger="gateway.escalation.businesstime"):
        answers = {d: cal.is_working_day(d)
                   for d in (date(2027, 1, 1) + timedelta(days=n) for n in range(400))}
        cal.add_business_time(at(2027, 6, 1, 10), timedelta(hours=500))
    # Then weekdays work, weekends and configured holidays do not, and each year warns once
    assert answers[date(2027, 1, 1)] is False       # config holiday
    assert answers[date(2027, 1, 4)] is True        # Monday
    assert answers[date(2027, 1, 9)] is False       # Saturday
    assert answers[date(2027, 2, 20)] is True       # configured make-up Saturday
    assert answers[date(2028, 1, 3)] is True
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2
    assert "2027" in warned[0] and "2028" in warned[1]


def test_config_overrides_beat_the_library_in_a_known_year() -> None:
    cal = BusinessCalendar.from_config(extra_holidays=["2026-03-02"], extra_workdays=["2026-10-03"])
    assert not cal.is_working_day(date(2026, 3, 2))
    assert cal.is_working_day(date(2026, 10, 3))


def test_without_official_holidays_only_weekends_and_overrides_count() -> None:
    cal = BusinessCalendar.from_config(official_holidays=False, extra_holidays=["2026-10-05"])
    assert cal.is_working_day(date(2026, 10, 1))
    assert not cal.is_working_day(date(2026, 10, 5))
    assert not cal.is_working_day(date(2026, 9, 20))


def test_is_working_day_takes_an_aware_datetime_in_the_calendar_zone(cal: BusinessCalendar) -> None:
    # 2026-09-30 20:00 UTC is already 1 October in Shanghai
    assert not cal.is_working_day(datetime(2026, 9, 30, 20, tzinfo=UTC))


# --- adding business time -----------------------------------------------------------------------


@pytest.mark.parametrize(("start", "delta", "due"), [
    # inside one day, and exactly to the close: the deadline is the closing time, not next opening
    (at(2026, 9, 8, 10), URGENT, at(2026, 9, 8, 14)),
    (at(2026, 9, 11, 17), HOUR, at(2026, 9, 11, 18)),
    (at(2026, 9, 11, 14), URGENT, at(2026, 9, 11, 18)),
    # over a weekend; start before opening and after closing
    (at(2026, 9, 11, 16), URGENT, at(2026, 9, 14, 11)),
    (at(2026, 9, 14, 7, 30), HOUR, at(2026, 9, 14, 10)),
    (at(2026, 9, 14, 22), URGENT, at(2026, 9, 15, 13)),
    # golden week: 30 Sep is the last working day before 8 Oct
    (at(2026, 9, 30, 15), URGENT, at(2026, 10, 8, 10)),
    (at(2026, 9, 30, 15), NORMAL, at(2026, 10, 8, 15)),
    (at(2026, 10, 3, 11), URGENT, at(2026, 10, 8, 13)),
    # make-up working days count: Sunday 20 Sep and Saturday 10 Oct
    (at(2026, 9, 19, 10), URGENT, at(2026, 9, 20, 13)),
    (at(2026, 10, 9, 16), URGENT, at(2026, 10, 10, 11)),
    # Spring Festival 2026: Sat 14 Feb works, 15–23 Feb off
    (at(2026, 2, 13, 16), NORMAL, at(2026, 2, 14, 16)),
    (at(2026, 2, 14, 17), URGENT, at(2026, 2, 24, 12)),
    # into 元旦 2027, known only from config
    (at(2026, 12, 31, 14), NORMAL, at(2027, 1, 4, 14)),
    (at(2026, 12, 31, 17), URGENT, at(2027, 1, 4, 12)),
])
def test_add_business_time(cal: BusinessCalendar, start: datetime, delta: timedelta,
                           due: datetime) -> None:
    result = cal.add_business_time(start, delta)
    assert result == due
    assert result.tzinfo is SH


def test_utc_input_gives_a_shanghai_result(cal: BusinessCalendar) -> None:
    # 07:00 UTC is 15:00 in Shanghai on 30 Sep 2026
    result = cal.add_business_time(datetime(2026, 9, 30, 7, tzinfo=UTC), URGENT)
    assert result == at(2026, 10, 8, 10)
    assert result.tzinfo is SH and result.hour == 10
    # 23:30 UTC on a Sunday is Monday 07:30 in Shanghai: counting starts at 09:00 Monday
    assert cal.add_business_time(datetime(2026, 9, 13, 23, 30, tzinfo=UTC),
                                 HOUR) == at(2026, 9, 14, 10)


def test_adding_nothing_returns_start_if_open_else_next_opening(cal: BusinessCalendar) -> None:
    assert cal.add_business_time(at(2026, 9, 8, 10, 5), timedelta(0)) == at(2026, 9, 8, 10, 5)
    assert cal.add_business_time(at(2026, 9, 8, 18), timedelta(0)) == at(2026, 9, 8, 18)
    assert cal.add_business_time(at(2026, 10, 1, 12), timedelta(0)) == at(2026, 10, 8, 9)


def test_lunch_break_is_not_business_time(lunch_cal: BusinessCalendar) -> None:
    assert lunch_cal.working_day_length == timedelta(hours=8)
    assert lunch_cal.add_business_time(at(2026, 9, 8, 11), HOUR) == at(2026, 9, 8, 12)
    assert lunch_cal.add_business_time(at(2026, 9, 8, 11), 2 * HOUR) == at(2026, 9, 8, 14)
    assert lunch_cal.add_business_time(at(2026, 9, 8, 12, 30), HOUR) == at(2026, 9, 8, 14)
    assert lunch_cal.next_opening(at(2026, 9, 8, 12)) == at(2026, 9, 8, 13)


@pytest.mark.parametrize(("start", "days", "due"), [
    (at(2026, 9, 14, 10, 30), 1, at(2026, 9, 15, 10, 30)),   # same clock, next working day
    (at(2026, 9, 11, 10, 30), 1, at(2026, 9, 14, 10, 30)),   # Friday → Monday
    (at(2026, 9, 11, 20), 1, at(2026, 9, 14, 18)),           # after close: next day's close
    (at(2026, 9, 12, 11), 1, at(2026, 9, 14, 18)),           # Saturday: Monday's close
    (at(2026, 9, 14, 7), 1, at(2026, 9, 14, 18)),            # before opening: that day's close
    (at(2026, 9, 30, 10), 1, at(2026, 10, 8, 10)),           # over the golden week
    (at(2026, 10, 9, 20), 1, at(2026, 10, 10, 18)),          # make-up Saturday
    (at(2026, 9, 14, 10), 5, at(2026, 9, 20, 10)),           # Sunday 20 Sep is a working day
    (at(2026, 9, 14, 10), 0, at(2026, 9, 14, 10)),
    (at(2026, 9, 14, 9), 1, at(2026, 9, 14, 18)),            # at opening: that day's close
])
def test_add_business_days(cal: BusinessCalendar, start: datetime, days: int,
                           due: datetime) -> None:
    assert cal.add_business_days(start, days) == due


def test_bad_arguments_are_refused(cal: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        cal.add_business_time(datetime(2026, 9, 8, 10), HOUR)
    with pytest.raises(ValueError, match="negative"):
        cal.add_business_time(at(2026, 9, 8, 10), -HOUR)
    with pytest.raises(ValueError, match="negative"):
        cal.add_business_days(at(2026, 9, 8, 10), -1)


# --- next opening and business time between -----------------------------------------------------


@pytest.mark.parametrize(("t", "opening"), [
    (at(2026, 9, 8, 10), at(2026, 9, 8, 10)),
    (at(2026, 9, 8, 8), at(2026, 9, 8, 9)),
    (at(2026, 9, 8, 18), at(2026, 9, 9, 9)),       # the clock stops at the closing instant
    (at(2026, 9, 30, 18, 1), at(2026, 10, 8, 9)),
    (at(2026, 9, 19, 9), at(2026, 9, 20, 9)),      # make-up Sunday
])
def test_next_opening(cal: BusinessCalendar, t: datetime, opening: datetime) -> None:
    assert cal.next_opening(t) == opening


def test_business_time_between(cal: BusinessCalendar, lunch_cal: BusinessCalendar) -> None:
    assert cal.business_time_between(at(2026, 9, 30, 15), at(2026, 10, 8, 10)) == URGENT
    assert cal.business_time_between(at(2026, 10, 8, 10), at(2026, 9, 30, 15)) == -URGENT
    assert cal.business_time_between(at(2026, 10, 2, 8), at(2026, 10, 2, 20)) == timedelta(0)
    assert cal.business_time_between(at(2026, 9, 8, 7), at(2026, 9, 8, 20)) == NORMAL
    # a whole 2026 September: 22 weekdays + make-up Sunday 20 Sep - Mid-autumn Friday 25th
    assert cal.business_time_between(at(2026, 9, 1), at(2026, 10, 1)) == 22 * NORMAL
    assert lunch_cal.business_time_between(at(2026, 9, 8, 11), at(2026, 9, 8, 14)) == 2 * HOUR


# --- configuration ------------------------------------------------------------------------------


def test_from_config_reads_plain_values() -> None:
    cal = BusinessCalendar.from_config(time_zone="Asia/Urumqi", opens="9:30", closes="17:30",
                                       lunch_start="12:00", lunch_end="13:30",
                                       extra_holidays=[" 2027-01-01 "], extra_workdays=[])
    assert cal.zone == ZoneInfo("Asia/Urumqi")
    assert (cal.opens, cal.closes, cal.lunch) == (time(9, 30), time(17, 30),
                                                  (time(12), time(13, 30)))
    assert cal.working_day_length == timedelta(hours=6, minutes=30)
    assert cal.extra_holidays == frozenset({date(2027, 1, 1)})
    assert cal == BusinessCalendar.from_config(time_zone="Asia/Urumqi", opens="09:30",
                                               closes="17:30", lunch_start="12:00",
                                               lunch_end="13:30", extra_holidays=["2027-01-01"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"time_zone": "Mars/Olympus"}, "time_zone"),
    ({"opens": "9h"}, "opens"),
    ({"opens": "18:00", "closes": "09:00"}, "open before"),
    ({"lunch_start": "12:00"}, "together"),
    ({"lunch_start": "08:00", "lunch_end": "09:30"}, "inside"),
    ({"extra_holidays": ["2027-13-01"]}, "extra_holidays"),
    ({"extra_holidays": ["2027-01-01"], "extra_workdays": ["2027-01-01"]}, "both"),
])
def test_from_config_rejects_bad_values(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.from_config(**kwargs)  # type: ignore[arg-type]


def test_a_calendar_without_working_days_fails_instead_of_looping() -> None:
    every_day = [date(2026, 9, 1) + timedelta(days=n) for n in range(4000)]
    cal = BusinessCalendar(extra_holidays=frozenset(every_day))
    with pytest.raises(ValueError, match="no working day"):
        cal.add_business_time(at(2026, 9, 2, 10), HOUR)


# --- properties ---------------------------------------------------------------------------------

CALENDARS = [
    BusinessCalendar.from_config(extra_holidays=NEW_YEAR_2027),
    BusinessCalendar.from_config(lunch_start="12:00", lunch_end="13:00",
                                 extra_holidays=NEW_YEAR_2027),
]
calendars = st.sampled_from(CALENDARS)
zones = st.sampled_from([SH, UTC, timezone(timedelta(hours=-5)),
                         timezone(timedelta(hours=5, minutes=45))])
starts = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 1)), zones)
deltas = st.one_of(
    st.sampled_from([timedelta(0), URGENT, NORMAL, HOUR]),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=300)))


def _inside_working_hours(cal: BusinessCalendar, t: datetime, *, at_opening: bool = True) -> bool:
    local = t.astimezone(cal.zone)
    clock = local.timetz().replace(tzinfo=None)
    segments = ([(cal.opens, cal.closes)] if cal.lunch is None
                else [(cal.opens, cal.lunch[0]), (cal.lunch[1], cal.closes)])
    return cal.is_working_day(local.date()) and any(
        (a <= clock if at_opening else a < clock) and clock <= b for a, b in segments)


@settings(max_examples=300, deadline=None)
@given(calendars, starts, deltas)
def test_result_is_in_working_hours_and_not_before_start(
        cal: BusinessCalendar, start: datetime, delta: timedelta) -> None:
    due = cal.add_business_time(start, delta)
    assert due >= start
    assert due.tzinfo is cal.zone
    assert _inside_working_hours(cal, due)
    assert cal.business_time_between(start, due) == delta


@settings(max_examples=300, deadline=None)
@given(calendars, starts, deltas, deltas)
def test_adding_is_associative(cal: BusinessCalendar, start: datetime, a: timedelta,
                               b: timedelta) -> None:
    assert cal.add_business_time(start, a + b) == cal.add_business_time(
        cal.add_business_time(start, a), b)


@settings(max_examples=200, deadline=None)
@given(calendars, starts, st.integers(min_value=0, max_value=30))
def test_days_are_working_day_lengths(cal: BusinessCalendar, start: datetime, days: int) -> None:
    due = cal.add_business_days(start, days)
    assert due == cal.add_business_time(start, days * cal.working_day_length)
    if _inside_working_hours(cal, start, at_opening=False):
        # same wall-clock time on a later working day (an opening instant counts as the close
        # before it, hence excluded)
        assert due.astimezone(cal.zone).time() == start.astimezone(cal.zone).time()


@settings(max_examples=200, deadline=None)
@given(calendars, starts)
def test_next_opening_starts_the_clock(cal: BusinessCalendar, start: datetime) -> None:
    opening = cal.next_opening(start)
    assert opening >= start
    assert cal.business_time_between(start, opening) == timedelta(0)
    assert _inside_working_hours(cal, opening)
