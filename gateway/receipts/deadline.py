"""The directive's own deadline, read from its text: the receipt deadline never falls after it.

Called by the ``receipts`` stage (gateway/receipts/owing.py) when it opens receipts: the deadline by
urgency (gateway/escalation/plan.py) is cut back to the directive's own one when that is earlier
(DESIGN §4.5) — a directive "今晚22:00前完成巡检" cannot be confirmed tomorrow morning.

What counts as a deadline is a time expression next to a deadline word, never a bare date
(a directive that mentions last Tuesday's outage sets no deadline):

* after a label: ``完成时限：…`` (the directive notice's ``due``, templates/notices/directive),
  ``截止…``, ``截止时间/日期：…``, ``期限：…``, ``Deadline: …``, ``Due: …``;
* before 前/之前/以前/内: ``今晚22:00前完成``, ``周五前提交``, ``11月27日18:00之前``, ``本周内``;
* between 于/在 and 完成/提交/回复…: ``请于明天下午3点完成``;
* after "by", "before", "no later than": ``by Friday 18:00``, ``by 6pm tomorrow``, ``by EOD``.

Time expressions: ISO dates and times, ``2026年11月27日``, ``11月27日``/``27日``,
``今天/今晚/明天/后天``, ``(本|下)周五``/``星期五``, ``本周内``, ``月底``; clock times ``22:00``,
``下午3点``, ``晚上十点半``, ``下班``; in English weekdays (``next Monday``),
``today/tonight/tomorrow``, ``Nov 27``/``27 November``, ``6pm``/``18:00``, ``EOD``/``COB``.
A date without a time means the end of that working day (the calendar's closing time);
``今晚`` without a time means 23:59. The earliest expression after the directive was sent
wins; only the first 20,000 characters are read. Pure: no clock, no database.
"""

from __future__ import annotations

import re
import unicodedata
from calendar import monthrange
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = ["directive_due"]

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_CN_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5,
               "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
_EN_WEEKDAY = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_EN_MONTH = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

_NUM = r"(?:\d{1,2}|[零一二两三四五六七八九十]{1,3})"
_PERIOD = r"(?:凌晨|早上|早晨|上午|中午|下午|傍晚|晚上|夜里|夜间|今晚|晚)"
_CN_DATE = (r"(?:(?:(?P<y>\d{4})\s*[年/.-]\s*)?(?P<m>\d{1,2})\s*[月/.-]\s*(?P<d>\d{1,2})\s*[日号]?"
            r"|(?P<dd>\d{1,2})\s*[日号]"
            r"|(?P<rel>今天|今日|今晚|今早|今夜|当天|当日|明天|明日|明早|明晚|后天|大后天)"
            r"|(?P<wk>本|这|下下|下)?\s*(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7末])"
            r"|(?P<week>本周|这周|本星期)|(?P<month>本?月底|月末))")
_CN_TIME = (rf"(?:(?P<period>{_PERIOD})?\s*(?:(?P<h>{_NUM})\s*(?:[:：]\s*(?P<mi>\d{{2}})|点\s*"
            rf"(?:(?P<half>半)|(?P<mi2>{_NUM})\s*分?)?|时)|(?P<closing>下班|收工))"
            rf"|(?P<noon>中午))")
_CN_WHEN = rf"(?:{_CN_DATE})?\s*t?\s*(?:{_CN_TIME})?"
_CN_LABEL = re.compile(
    rf"(?:完成时限|完成时间|截止时间|截止日期|截至|截止到|截止于|截止|期限|时限)\s*(?:为|是|[:：])?\s*"
    rf"(?P<when>{_CN_WHEN})")
_CN_BEFORE = re.compile(rf"(?P<when>{_CN_WHEN})\s*(?:之前|以前|前|内)")
_CN_AT = re.compile(rf"(?:于|在)\s*(?P<when>{_CN_WHEN})\s*"
                    r"(?:完成|提交|回复|反馈|上报|处理完|落实|交付|到位)")

_EN_CLOCK = (r"(?:(?P<h>\d{1,2})(?::(?P<mi>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?(?![\d:])"
             r"|(?P<noon>noon|midday))")
_EN_DAY = (r"(?:(?P<rel>today|tonight|tomorrow|eod|cob|end of (?:the )?day|close of business"
           r"|end of (?:the |this )?week)"
           r"|(?:(?P<next>next|this|coming)\s+)?(?P<wd>mon|tue|wed|thu|fri|sat|sun)[a-z]*"
           r"|(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
           r"|(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?P<md>\d{1,2})"
           r"(?:st|nd|rd|th)?"
           r"|(?P<dm>\d{1,2})(?:st|nd|rd|th)?\s+(?P<mon2>jan|feb|mar|apr|may|jun|jul|aug|sep|oct"
           r"|nov|dec)[a-z]*)")
_EN_WHEN = re.compile(
    rf"(?<![a-z])(?:by|before|no later than|not later than|deadline\s*:?|due(?: date| by)?\s*:?)"
    rf"\s+(?:the\s+)?(?:{_EN_DAY}(?:,?\s*(?:at\s+)?{_EN_CLOCK.replace('(?P<', '(?P<t')})?"
    rf"|{_EN_CLOCK}(?:,?\s*(?:on\s+)?{_EN_DAY.replace('(?P<', '(?P<d')})?)")


def _number(text: str | None) -> int | None:
    if not text:
        return None
    if text.isdigit():
        return int(text)
    if text.startswith("十"):
        return 10 + (_CN_DIGITS.get(text[1:], 0) if len(text) > 1 else 0)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return _CN_DIGITS.get(tens, 0) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return _CN_DIGITS.get(text)


def _next_weekday(start: date, weekday: int, *, weeks: int = 0) -> date:
    if weeks:  # 下周五: the Friday of the week after this one (weeks start on Monday)
        monday = start - timedelta(days=start.weekday()) + timedelta(weeks=weeks)
        return monday + timedelta(days=weekday)
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def _cn_day(g: dict[str, str | None], sent: date) -> tuple[date | None, bool]:
    """The day named, and whether it is an evening word (今晚/明晚) that makes 10点 mean 22:00."""
    if g["m"] and g["d"]:
        year = int(g["y"]) if g["y"] else sent.year
        try:
            day = date(year, int(g["m"]), int(g["d"]))
        except ValueError:
            return None, False
        if not g["y"] and day < sent:
            day = day.replace(year=year + 1) if not (day.month == 2 and day.day == 29) else day
        return day, False
    if g["dd"]:
        n = int(g["dd"])
        year, month = sent.year, sent.month
        if n < sent.day:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return (date(year, month, n) if n <= monthrange(year, month)[1] else None), False
    if g["rel"]:
        rel = g["rel"]
        offset = 3 if rel == "大后天" else 2 if rel == "后天" else 1 if rel.startswith("明") else 0
        return sent + timedelta(days=offset), rel in ("今晚", "今夜", "明晚")
    if g["wd"]:
        weeks = {"下": 1, "下下": 2}.get(g["wk"] or "", 0)
        return _next_weekday(sent, _CN_WEEKDAY[g["wd"]], weeks=weeks), False
    if g["week"]:
        return _next_weekday(sent, 4), False  # the week's last working day, Friday
    if g["month"]:
        return date(sent.year, sent.month, monthrange(sent.year, sent.month)[1]), False
    return None, False


def _cn_clock(g: dict[str, str | None], evening: bool, closes: time) -> time | None:
    if g["closing"]:
        return closes
    if g["noon"]:
        return time(12, 0)
    hour = _number(g["h"])
    if hour is None:
        return None
    minute = 30 if g["half"] else (_number(g["mi"]) or _number(g["mi2"]) or 0)
    period = g["period"] or ""
    if (period in ("下午", "傍晚", "晚上", "夜里", "夜间", "今晚", "晚") or evening) and hour < 12:
        hour += 12
    if period == "中午" and hour < 6:
        hour += 12
    if hour > 24 or minute > 59:
        return None
    return time(23, 59) if hour == 24 else time(hour, minute)


def _en_clock(g: dict[str, str | None], prefix: str) -> time | None:
    if g.get(prefix + "noon"):
        return time(12, 0)
    raw = g.get(prefix + "h")
    if raw is None:
        return None
    hour, minute = int(raw), int(g.get(prefix + "mi") or 0)
    ampm = (g.get(prefix + "ampm") or "").replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    if ampm == "am" and hour == 12:
        hour = 0
    if not ampm and g.get(prefix + "mi") is None and hour < 7:
        return None  # "by 3" is a count more often than a time
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _en_day(g: dict[str, str | None], prefix: str, sent: date) -> tuple[date | None, str]:
    rel = g.get(prefix + "rel")
    if rel:
        if rel.startswith("end of") and "week" in rel:
            return _next_weekday(sent, 4), "close"
        if rel == "tomorrow":
            return sent + timedelta(days=1), ""
        return sent, "night" if rel == "tonight" else ("close" if rel != "today" else "")
    wd = g.get(prefix + "wd")
    if wd:
        weeks = 1 if g.get(prefix + "next") == "next" else 0
        return _next_weekday(sent, _EN_WEEKDAY[wd], weeks=weeks), ""
    try:
        if g.get(prefix + "iy"):
            return date(int(g[prefix + "iy"] or 0), int(g[prefix + "im"] or 0),
                        int(g[prefix + "id"] or 0)), ""
        month = g.get(prefix + "mon") or g.get(prefix + "mon2")
        number = g.get(prefix + "md") or g.get(prefix + "dm")
        if month and number:
            day = date(sent.year, _EN_MONTH[month[:3]], int(number))
            return (day.replace(year=sent.year + 1) if day < sent else day), ""
    except ValueError:
        return None, ""
    return None, ""


def _combine(day: date | None, clock: time | None, *, sent: datetime, zone: ZoneInfo,
             default: time) -> datetime | None:
    if day is None and clock is None:
        return None
    local = sent.astimezone(zone)
    when = datetime.combine(day or local.date(), clock or default, tzinfo=zone)
    if day is None and when <= local:  # "22:00前" said after 22:00: tomorrow's
        when += timedelta(days=1)
    return when


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def directive_due(text: str, *, sent_at: datetime, zone: ZoneInfo,
                  closes: time = time(18, 0)) -> datetime | None:
    """The earliest deadline the directive's text sets after ``sent_at``, or None."""
    text = _normalise(text)[:20_000]
    sent = sent_at.astimezone(zone)
    found: list[datetime] = []
    for pattern in (_CN_LABEL, _CN_BEFORE, _CN_AT):
        for match in pattern.finditer(text):
            if not match.group("when").strip():
                continue
            g = match.groupdict()
            day, evening = _cn_day(g, sent.date())
            clock = _cn_clock(g, evening, closes)
            default = time(23, 59) if evening else closes
            when = _combine(day, clock, sent=sent, zone=zone, default=default)
            if when is not None:
                found.append(when)
    for match in _EN_WHEN.finditer(text):
        g = match.groupdict()
        day, hint = _en_day(g, "", sent.date())
        clock = _en_clock(g, "t")
        if day is None:
            clock = _en_clock(g, "")
            day, hint = _en_day(g, "d", sent.date())
        default = time(23, 59) if hint == "night" else closes
        when = _combine(day, clock, sent=sent, zone=zone, default=default)
        if when is not None:
            found.append(when)
    later = [w for w in found if w > sent]
    return min(later) if later else None
