"""The directive's own deadline, read from its text (gateway/receipts/deadline.py)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.receipts.deadline import directive_due

SH = ZoneInfo("Asia/Shanghai")
SENT = datetime(2026, 11, 24, 10, 0, tzinfo=SH)  # a Tuesday morning


@pytest.mark.parametrize(("text", "due"), [
    ("请于今晚22:00前完成核心交换机巡检", "2026-11-24 22:00"),
    ("请周五前提交巡检报告，请回复确认。", "2026-11-27 18:00"),
    ("完成时限：2026-11-26 12:00", "2026-11-26 12:00"),
    ("完成时限：2026年11月26日", "2026-11-26 18:00"),
    ("截止11月27日", "2026-11-27 18:00"),
    ("截止时间：明天下午3点", "2026-11-25 15:00"),
    ("请在下周一前完成", "2026-11-30 18:00"),
    ("请于明天上午十点半之前回复", "2026-11-25 10:30"),
    ("本周内完成", "2026-11-27 18:00"),
    ("下班前完成", "2026-11-24 18:00"),
    ("请于后天完成部署", "2026-11-26 18:00"),
    ("Please finish by Friday 18:00.", "2026-11-27 18:00"),
    ("please do it by 6pm tomorrow", "2026-11-25 18:00"),
    ("Deadline: Nov 27, 17:00", "2026-11-27 17:00"),
    ("Due by next Monday.", "2026-11-30 18:00"),
    ("by EOD please", "2026-11-24 18:00"),
    ("先在测试环境验证，周四前完成；最晚今晚20:00前反馈结果", "2026-11-24 20:00"),  # earliest
])
def test_the_deadline_a_directive_sets(text: str, due: str) -> None:
    assert directive_due(text, sent_at=SENT, zone=SH) == datetime.fromisoformat(due).replace(
        tzinfo=SH)


@pytest.mark.parametrize("text", [
    "今晚割接前务必完成核心交换机配置备份", "上周二的故障已经处理完毕",
    "we had 3 issues by the way", "by 3 people", "请在机房完成",
    "完成时限：2026-10-08 18:00",  # already past: not a deadline
    "", "收到"])
def test_no_deadline_without_a_time_next_to_a_deadline_word(text: str) -> None:
    assert directive_due(text, sent_at=SENT, zone=SH) is None


def test_hostile_text_is_bounded() -> None:
    due = directive_due("1点前" * 50_000, sent_at=SENT, zone=SH)
    assert due == datetime(2026, 11, 25, 1, 0, tzinfo=SH)  # "1点" said at 10:00: the next one

