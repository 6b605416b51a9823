"""Periods and schedules in Asia/Shanghai: weeks, months, working days, what is due."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.reports.periods import (
    UNSCHEDULED,
    check_frequency,
    latest_due,
    parse_frequency,
    parse_period,
)

SH = ZoneInfo("Asia/Shanghai")


def test_periods_start_at_local_midnight() -> None:
    w = parse_period("2026-W48", SH)
    assert w.start == datetime(2026, 11, 23, tzinfo=SH) and w.end == datetime(2026, 11, 30,
                                                                              tzinfo=SH)
    m = parse_period("2026-12", SH)
    assert m.start.astimezone(UTC) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert m.end == datetime(2027, 1, 1, tzinfo=SH) and m.last_day.isoformat() == "2026-12-31"
    r = parse_period("2026-11-01..2026-11-15", SH)
    assert len(r.days()) == 15
    with pytest.raises(ValueError):
        parse_period("2026-13-01..2026-11-15", SH)


def test_weekly_schedule_is_due_friday_evening() -> None:
    s = parse_frequency("weekly fri 18:00")
    assert s is not None
    before = datetime(2026, 11, 27, 9, 59, tzinfo=UTC)  # Fri 17:59 Shanghai
    period, due = latest_due(s, before, SH)
    assert period.key == "2026-W47"
    period, due = latest_due(s, datetime(2026, 11, 27, 10, 0, tzinfo=UTC), SH)
    assert period.key == "2026-W48" and due == datetime(2026, 11, 27, 18, tzinfo=SH)


def test_monthly_is_due_on_the_third_working_day() -> None:
    s = parse_frequency("monthly")
    assert s is not None
    # October 2026: 1–7 are the National Day holiday, so the 3rd working day is 10/10
    # (a make-up Saturday) or later — never the 3rd of the month.
    period, due = latest_due(s, datetime(2026, 10, 20, tzinfo=UTC), SH)
    assert period.key == "2026-09" and due.date() > datetime(2026, 10, 7).date()
    period, due = latest_due(s, datetime(2026, 12, 2, tzinfo=UTC), SH)
    assert period.key == "2026-10"  # November's report is due on 3 Dec
    assert latest_due(s, datetime(2026, 12, 3, 2, tzinfo=UTC), SH)[0].key == "2026-11"
    assert parse_frequency("immediately") is None


@pytest.mark.parametrize(("text", "kept"), [
    ("weekly", "weekly"), ("Weekly Fri 18:00", "weekly fri 18:00"), ("monthly wd3 9:00",
                                                                    "monthly wd3 09:00"),
    ("monthly 5", "monthly 5"), ("daily", "daily"), ("immediately", "immediately"),
    ("on_demand", "on_demand")])
def test_a_frequency_is_checked_and_kept(text: str, kept: str) -> None:
    assert check_frequency(text) == kept
    if kept not in UNSCHEDULED:
        assert parse_frequency(kept) is not None


@pytest.mark.parametrize("text", ["weekyl", "", "quarterly", "weekly friyay", "monthly 40",
                                  "monthly wd30", "daily 25:00", "weekly fri sat", "daily fri"])
def test_a_frequency_that_would_never_be_due_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"daily|time of day"):
        check_frequency(text)
