"""The ``[escalation]`` section of a project file: who must confirm, by when, and who is chased.

Read by the ``receipts`` stage (which recipients get a receipt, the deadline by urgency) and by the
scheduler (the ladder). Durations are business time on the project's calendar (policy 4.3,
"timely by urgency"; DESIGN §4.4), written ``"4h"``, ``"30m"``, ``"1d"`` or ``"1d4h"``; a day is
one working day (9 h with the default 09:00–18:00). Example::

    [escalation]
    recipients = "to_cc"            # or "to": who owes a receipt

    [escalation.deadlines]
    urgent = "4h"
    normal = "1d"

    [escalation.calendar]           # Chinese public holidays and 调休 come from chinesecalendar
    extra_holidays = ["2027-01-01"] # years the package does not know yet go here

    [[escalation.levels]]           # level 1: at the deadline, remind each recipient
    notify = "recipients"
    [[escalation.levels]]           # level 2: half a day later, the project manager
    notify = "project_manager"
    after = "4h"
    [[escalation.levels]]           # level 3: a day later, the O&M department manager
    notify = "dept_manager"
    after = "1d"
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from gateway.escalation.businesstime import BusinessCalendar

_DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?$")

Notify = Literal["recipients", "project_manager", "dept_manager"]


@dataclass(frozen=True)
class BusinessDuration:
    """An amount of business time: whole working days plus minutes."""

    days: int = 0
    minutes: int = 0

    @classmethod
    def parse(cls, text: str) -> BusinessDuration:
        match = _DURATION.match(text.strip().lower())
        if match is None or not text.strip():
            raise ValueError(f"{text!r} is not a duration like '4h', '30m', '1d' or '1d4h'")
        return cls(days=int(match["d"] or 0),
                   minutes=int(match["h"] or 0) * 60 + int(match["m"] or 0))

    def length(self, calendar: BusinessCalendar) -> timedelta:
        return self.days * calendar.working_day_length + timedelta(minutes=self.minutes)

    def after(self, calendar: BusinessCalendar, start: datetime) -> datetime:
        """The instant this much business time after ``start``."""
        return calendar.add_business_time(start, self.length(calendar))


def _duration(value: str) -> str:
    BusinessDuration.parse(value)
    return value.strip().lower()


Duration = Annotated[str, AfterValidator(_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(_Model):
    """One rung of the ladder (as in on-call tools): whom, how long past the deadline, how often."""

    notify: Notify
    after: Duration = "0h"      # business time after the deadline
    repeat: int = Field(default=1, ge=1, le=10)
    every: Duration = "4h"      # business time between repeats of this level


class Deadlines(_Model):
    urgent: Duration = "4h"
    normal: Duration = "1d"
    due_soon: Duration = "1h"   # how long before the deadline the ``due_soon`` event fires


class CalendarConfig(_Model):
    """Working hours and days (see gateway/escalation/businesstime.py); empty time_zone: the
    project's."""

    time_zone: str = ""
    opens: str = "09:00"
    closes: str = "18:00"
    lunch_start: str | None = None
    lunch_end: str | None = None
    extra_holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()
    official_holidays: bool = True

    @model_validator(mode="after")
    def _buildable(self) -> CalendarConfig:
        self.build("Asia/Shanghai")  # raises ValueError naming the bad value
        return self

    def build(self, project_zone: str) -> BusinessCalendar:
        return _calendar(self, self.time_zone or project_zone)


@lru_cache(maxsize=64)
def _calendar(config: CalendarConfig, zone: str) -> BusinessCalendar:
    # One calendar per configuration: it caches its working-day decisions.
    return BusinessCalendar.from_config(
        time_zone=zone, opens=config.opens, closes=config.closes,
        lunch_start=config.lunch_start, lunch_end=config.lunch_end,
        extra_holidays=config.extra_holidays, extra_workdays=config.extra_workdays,
        official_holidays=config.official_holidays)


DEFAULT_LEVELS: tuple[Level, ...] = (
    Level(notify="recipients"),
    Level(notify="project_manager", after="4h"),
    Level(notify="dept_manager", after="1d"),
)


class EscalationConfig(_Model):
    """Receipts, deadlines and the escalation ladder of one project (DESIGN §4)."""

    enabled: bool = True
    # Who owes a receipt: the To recipients only, or To and Cc (policy 4.3: "the receiver").
    recipients: Literal["to", "to_cc"] = "to_cc"
    deadlines: Deadlines = Deadlines()
    calendar: CalendarConfig = CalendarConfig()
    levels: tuple[Level, ...] = DEFAULT_LEVELS
    # Signed reply addresses stay valid this many calendar days after the ladder's last step.
    reply_address_days: int = Field(default=30, ge=1, le=3650)
    # Own DKIM check (dkimpy) besides trusted Authentication-Results: "signed" = a signature
    # present must verify; "off" = rely on the upstream's Authentication-Results only.
    dkim_verify: Literal["off", "signed"] = "off"

    @model_validator(mode="after")
    def _ladder(self) -> EscalationConfig:
        if not self.levels:
            raise ValueError("levels: give at least one level")
        return self

    def deadline_for(self, urgency: str) -> BusinessDuration:
        return BusinessDuration.parse(self.deadlines.urgent if urgency == "urgent"
                                      else self.deadlines.normal)
