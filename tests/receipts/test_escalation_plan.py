"""Deadlines and the ladder as plain functions: business time, repeats, catch-up, who is told."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.config.escalation import BusinessDuration, EscalationConfig, Level
from gateway.config.settings import load_settings
from gateway.escalation.plan import deadline_for, ladder, plan, resolve_level, targets
from tests.receipts.conftest import CHENJING, LINA, LIUYANG, WANGQIANG, ZHANGWEI, at


@pytest.fixture
def demo(config_dir: Path):  # type: ignore[no-untyped-def]
    env = {"COMMGATE_SECRET_KEY": "test-secret-key-0123456789",
           "COMMGATE_DATA_DIR": str(config_dir.parent / "var")}
    return load_settings(config_dir / "gateway.toml", env).project("demo")


CONFIG = EscalationConfig()
CAL = CONFIG.calendar.build("Asia/Shanghai")


def test_durations_parse_and_reject_nonsense() -> None:
    assert BusinessDuration.parse("1d4h") == BusinessDuration(days=1, minutes=240)
    assert BusinessDuration.parse("30m") == BusinessDuration(minutes=30)
    for bad in ("", "4", "h4", "1.5h", "-1h"):
        with pytest.raises(ValueError):
            BusinessDuration.parse(bad)
    with pytest.raises(ValueError):
        Level(notify="recipients", after="soon")


@pytest.mark.parametrize(("opened", "urgency", "deadline"), [
    ("2026-11-24 10:00", "normal", "2026-11-25 10:00"),   # Tue + 1 working day
    ("2026-11-24 10:00", "urgent", "2026-11-24 14:00"),   # + 4 working hours
    ("2026-11-27 16:00", "urgent", "2026-11-30 11:00"),   # Fri 16:00 → Mon 11:00
    ("2026-11-28 11:00", "normal", "2026-11-30 18:00"),   # Saturday: Monday's close
    ("2026-09-30 15:00", "normal", "2026-10-08 15:00"),   # National Day: 10-01…10-07 off
    ("2026-10-09 17:00", "urgent", "2026-10-10 12:00"),   # Saturday 10-10 is a make-up day
])
def test_deadlines_run_on_the_chinese_business_clock(opened: str, urgency: str,
                                                     deadline: str) -> None:
    due = deadline_for(CONFIG, CAL, opened_at=at(opened), urgency=urgency)
    assert due.deadline == at(deadline)
    assert due.due_soon_at < due.deadline


def test_a_directive_of_new_years_eve_falls_back_for_2027(
        caplog: pytest.LogCaptureFixture) -> None:
    # chinesecalendar knows 2026 only: 2027-01-01 is a Friday it cannot judge
    with caplog.at_level(logging.WARNING):
        urgent = deadline_for(CONFIG, CAL, opened_at=at("2026-12-31 16:00"), urgency="urgent")
        normal = deadline_for(CONFIG, CAL, opened_at=at("2026-12-31 16:00"), urgency="normal")
    assert urgent.deadline == at("2027-01-01 11:00")  # weekdays only: no crash, a warning
    assert normal.deadline == at("2027-01-01 16:00")
    assert "2027" in caplog.text
    # with 元旦 configured as a holiday, it moves to Monday
    config = EscalationConfig.model_validate({"calendar": {"extra_holidays": ["2027-01-01"]}})
    cal = config.calendar.build("Asia/Shanghai")
    assert deadline_for(config, cal, opened_at=at("2026-12-31 16:00"),
                        urgency="urgent").deadline == at("2027-01-04 11:00")
    # and the ladder beyond it computes too
    steps = ladder(config.levels, cal, at("2027-01-04 11:00"))
    assert [s.due_at for s in steps] == [at("2027-01-04 11:00"), at("2027-01-04 15:00"),
                                         at("2027-01-05 11:00")]


def test_the_ladder_flattens_levels_and_repeats_in_time_order() -> None:
    levels = (Level(notify="recipients", repeat=3, every="2h"),
              Level(notify="project_manager", after="3h"),
              Level(notify="dept_manager", after="1d"))
    steps = ladder(levels, CAL, at("2026-11-25 10:00"))
    assert [(s.level, s.repeat, s.due_at) for s in steps] == [
        (1, 0, at("2026-11-25 10:00")), (1, 1, at("2026-11-25 12:00")),
        (2, 0, at("2026-11-25 13:00")), (1, 2, at("2026-11-25 14:00")),
        (3, 0, at("2026-11-26 10:00"))]


def _plan(now: str, steps_done: int = 0, noted: bool = False):  # type: ignore[no-untyped-def]
    deadline = at("2026-11-25 10:00")
    levels = (Level(notify="recipients", repeat=3, every="2h"),
              Level(notify="project_manager", after="3h"))
    return plan(steps=ladder(levels, CAL, deadline), steps_done=steps_done, deadline=deadline,
                due_soon_at=at("2026-11-25 09:00"), due_soon_noted=noted, overdue_noted=noted,
                now=at(now))


def test_plan_notes_events_and_says_when_to_look_again() -> None:
    early = _plan("2026-11-25 08:00")
    assert (early.events, early.steps, early.next_due_at) == ((), (), at("2026-11-25 09:00"))
    soon = _plan("2026-11-25 09:30")
    assert soon.events == ("due_soon",) and soon.next_due_at == at("2026-11-25 10:00")
    due = _plan("2026-11-25 10:00")
    assert due.events == ("due_soon", "overdue")
    assert [(s.level, s.repeat) for s in due.steps] == [(1, 0)]
    assert due.steps_done == 1 and due.next_due_at == at("2026-11-25 12:00")


def test_after_a_long_outage_each_level_is_acted_on_once() -> None:
    # The scheduler was down from before the deadline until the next day
    late = _plan("2026-11-26 10:00", steps_done=0, noted=False)
    assert [(s.level, s.repeat) for s in late.steps] == [(1, 2), (2, 0)]  # latest repeat only
    assert late.steps_done == 4 and late.next_due_at is None


def test_managers_are_never_told_about_themselves(demo) -> None:  # type: ignore[no-untyped-def]
    levels = CONFIG.levels
    assert [m.email for m in targets(demo, "project_manager", sender=LINA,
                                     unconfirmed=[LIUYANG])] == [ZHANGWEI]
    # the PM's own directive: level 2 passes on to the dept manager
    assert [(lvl, [m.email for m in people]) for lvl, people in [resolve_level(
        demo, levels, 2, sender=ZHANGWEI, unconfirmed=[LINA])]] == [(3, [WANGQIANG])]
    # the PM is the one who has not confirmed: same
    assert resolve_level(demo, levels, 2, sender=LINA, unconfirmed=[ZHANGWEI])[0] == 3
    # the dept manager has not confirmed his colleague's directive: nobody left at level 3
    assert resolve_level(demo, levels, 3, sender=CHENJING, unconfirmed=[WANGQIANG]) == (3, [])
    # plus-tags and case do not hide anyone
    assert targets(demo, "project_manager", sender="ZhangWei+ops@XDYJ.example.com",
                   unconfirmed=[]) == []


def test_config_errors_name_the_key(config_dir: Path) -> None:
    from gateway.errors import ConfigError

    demo_file = config_dir / "projects" / "demo.toml"
    demo_file.write_text(demo_file.read_text(encoding="utf-8").replace(
        'urgent = "4h"', 'urgent = "four hours"'), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(config_dir / "gateway.toml",
                      {"COMMGATE_SECRET_KEY": "test-secret-key-0123456789",
                       "COMMGATE_DATA_DIR": str(config_dir.parent / "var")})
    assert "escalation.deadlines.urgent" in str(error.value)
