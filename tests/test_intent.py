"""Reading replies to directives: realistic Chinese and English replies, mixed and noisy."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.receipts.intent import Intent, read_intent

CONFIRMED = [
    "收到",
    "已收到",
    "收到！！",
    "收到。",
    "收到，谢谢",
    "收到，马上处理",
    "收到收到",
    "收到了，今天下班前完成",
    "好的",
    "好的~",
    "好的👍",
    "好",
    "好，我来安排",
    "好的呢",
    "嗯嗯，好的",
    "明白",
    "明白了，按要求执行",
    "了解",
    "了解，谢谢王经理",
    "没问题",
    "没问题，周五前给您答复。",
    "已确认",
    "确认",
    "确认收到，会按时完成",
    "知道了",
    "已阅",
    "收悉，遵照执行",
    "同意",
    "可以的",
    "👍",
    "👍🏻👍🏻",
    "🫡",
    "ＯＫ",
    "OK",
    "ok",
    "ok了，马上去改",
    "  收到  ",
    "您好，收到，谢谢！",
    "不好意思回复晚了，收到",
    "收到，有问题再联系您",
    "收到，如有疑问我再找您",
    "Noted.",
    "noted, thanks",
    "Acknowledged.",
    "Will do.",
    "Confirmed",
    "Got it, thanks!",
    "Understood, will follow the plan.",
    "Received, thank you.",
    "OK, no problem.",
    "Sure, will handle it today.",
    "Yes",
    "Thanks, noted. Let me know if anything changes.",
    "Sounds good 👍",
    "收到 OK",
    "收到，会议纪要无异议",
    "纪要内容确认无误",
    "领导，收到，马上落实",
    "OK，明天上午到现场",
    "正在处理呢",
    "没意见",
    "行吧",
    "Thanks for the heads up, will do.",
    "Yes, confirmed for Friday 10am.",
    "Understood. No further questions.",
]

QUESTIONED = [
    "不明白",
    "不太明白第二条是什么意思",
    "不是很清楚具体要求",
    "没看懂",
    "不了解这个系统",
    "没收到附件",
    "还没收到",
    "请问是哪台服务器？",
    "请问什么时候开始？",
    "是指机房A的交换机吗",
    "是否需要停机？",
    "需要通知客户吗",
    "周六也要去现场吗？",
    "那B机房呢",
    "这个谁负责",
    "能不能下周再做？",
    "可不可以分两批升级",
    "收到，但是否需要提前备份？",
    "收到，但是具体时间需要再确认",
    "好的，不过我下午才能处理",
    "明白，有个问题：备件从哪里领？",
    "附件打不开，麻烦再发一次",
    "请再发一下附件",
    "确定吗？",
    "ok?",
    "收到？",
    "What do you mean by 'switch over'?",
    "what do you mean by phase 2",
    "OK but which switch?",
    "OK but which switch",
    "Which rack is it?",
    "Could you clarify the scope?",
    "Not sure I understand the second point.",
    "I don't understand the second step",
    "Got it. Is this for both sites?",
    "Noted, however the change window is not clear to me.",
    "I can't open the attachment.",
    "Please resend the attachment",
    "不明白？？",
    "不太明白…",
    "这个事情之前不是说好下周吗",
    "请确认是10月8日还是10月9日",
    "收到，但是我周四请假，能否安排其他人？",
    "Can we postpone to next week?",
    "I have a question about item 3.",
    "Noted. Is it urgent?",
]

DECLINED = [
    "无法按期完成",
    "无法",
    "不同意",
    "做不到",
    "来不及",
    "收到，但本周无法完成，需要延期到下周",
    "这周人手不够，做不了",
    "不行",
    "不可以",
    "我们不能接受这个时间",
    "按期完成有困难",
    "收到，但是来不及，能否延期？",
    "cannot",
    "Cannot do it this week.",
    "Sorry, I can't make it on Friday.",
    "We are unable to finish by Monday.",
    "I won't be able to attend.",
    "I disagree with this change.",
    "Reject.",
    "not OK",
    "Not okay for us, sorry.",
    "No.",
    "不不不，这样不行",
    "Can’t do, the team is on another site.",
    "时间太紧了，恐怕不行",
    "不好意思，这周没空",
    "不同意，成本太高",
    "This won't work for us.",
    "Apologies, we can't meet the deadline due to parts shortage.",
]

UNCLEAR = [
    "",
    "   ",
    "。。。",
    "谢谢",
    "Thanks",
    "稍后回复",
    "我了解一下再回复您",
    "转张工处理",
    "见附件",
    "我在出差，下周一回来",
    "😊",
    "🙏",
    "FYI",
    "已经转给运维组了",
    "我确认一下",
    "忙着呢",
    "I'm on leave until Monday, will check then.",
]

CASES = ([(t, "confirmed") for t in CONFIRMED] + [(t, "questioned") for t in QUESTIONED]
         + [(t, "declined") for t in DECLINED] + [(t, "unclear") for t in UNCLEAR])


def test_the_table_is_big_and_covers_both_languages() -> None:
    assert len(CASES) >= 60
    assert sum(t.isascii() for t, _ in CASES) >= 25


@pytest.mark.parametrize(("text", "status"), CASES)
def test_reply_reads_as(text: str, status: str) -> None:
    intent = read_intent(text)
    assert intent.status == status, intent.reasons
    assert bool(intent.reasons) == (status != "unclear")


def test_reasons_name_the_rules_and_words_in_text_order() -> None:
    intent = read_intent("收到，但是否需要提前备份？")
    assert intent == Intent("questioned", ["confirm: 收到", "reservation: 但", "question: 是否",
                                           "question-mark: ?"])


def test_negations_never_confirm() -> None:
    for text in ("不明白", "没收到", "not OK", "不了解", "未确认", "I haven't received it"):
        assert read_intent(text).status != "confirmed", text
    assert read_intent("不明白").status == "questioned"


def test_decline_beats_question_beats_confirm() -> None:
    assert read_intent("好的，是否可以延期？来不及").status == "declined"
    assert read_intent("好的，是否可以延期？").status == "questioned"


@pytest.mark.parametrize("noise", ["", "！！", "~", "。", " 👍", "\u200b", "\n\n", "…"])
def test_noise_around_a_confirmation_keeps_it_confirmed(noise: str) -> None:
    assert read_intent(f"{noise}收到{noise}").status == "confirmed"


@pytest.mark.parametrize("hostile", ["在" * 50_000, "不" * 50_000, "what " * 20_000,
                                     "?" * 100_000, "能不" * 30_000])
@pytest.mark.timeout(120)  # a hang guard, not a speed test: bench/ measures speed
def test_long_hostile_text_is_read_with_bounded_reasons(hostile: str) -> None:
    intent = read_intent(hostile)
    assert intent.status in ("confirmed", "questioned", "declined", "unclear")
    assert len(intent.reasons) <= 20


@settings(max_examples=500)
@given(st.text(max_size=200))
def test_any_text_reads_as_one_of_four_states(text: str) -> None:
    intent = read_intent(text)
    assert intent.status in {"confirmed", "questioned", "declined", "unclear"}
    assert all(isinstance(reason, str) for reason in intent.reasons)


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_a_clear_refusal_after_anything_is_declined(prefix: str) -> None:
    assert read_intent(f"{prefix}\n本周无法按期完成。").status == "declined"


# Issue 15: refusals of the form verb + 不了/不开/不过来/不及, "只能顺延…", English refusals;
# a confirmation that mentions a later check of one's own.
REFUSALS = ["我今晚去不了", "这个参数改不了", "周四排不开", "这周忙不过来", "赶不及了",
            "周五顾不上", "只能顺延到下周一", "只能延后到周五", "收到，不过只能推迟到下周",
            "恐怕要延期到月底", "收到，但人手不够，做不完", "现场去不了，只能远程",
            "I can't make it on Friday.", "Unable to do it this week.",
            "We won't be able to finish before Monday.", "Sorry, that won't happen this week.",
            "We will have to postpone to next week.", "I'm not available on Friday.",
            "Too busy this week, sorry.", "We can only start next Tuesday.",
            "没问题，不过只能下周一做", "收到，我这边只能节后安排", "收到，暂不执行",
            "收到，但这周估计搞不定", "恐怕有难度", "我们这边暂时无力支持", "可能要晚一天完成",
            "腾不出时间", "That is not going to work for us.", "Not this week, sorry.",
            "I would rather not do this on Friday."]
STILL_QUESTIONS = ["能否改到周四？", "可以改到周四吗", "Can we postpone to next week?",
                   "是否可以延后一天？"]
LATER_CHECKS = ["收到，执行前会再确认一次清单版本", "执行前会再确认一次清单版本",
                "好的，割接前我会再核对一遍配置", "收到，我会再核实一下型号",
                "Noted, will double-check before we start.",
                "OK, we'll re-check the list before the change window."]
NOT_REFUSALS = ["收到，少不了你的", "收到，错不了", "好的，等不及要上线了", "不了解这个系统",
                "收到，用不了多久就能完成", "收到，这点小事算不了什么", "好的，只能今晚做，没问题",
                "收到，放心，误不了事"]


@pytest.mark.parametrize("text", REFUSALS)
def test_inability_and_postponement_decline(text: str) -> None:
    assert read_intent(text).status == "declined", read_intent(text).reasons


@pytest.mark.parametrize("text", STILL_QUESTIONS)
def test_asking_to_move_it_is_a_question(text: str) -> None:
    assert read_intent(text).status == "questioned", read_intent(text).reasons


@pytest.mark.parametrize("text", LATER_CHECKS)
def test_a_later_check_of_ones_own_still_confirms(text: str) -> None:
    assert read_intent(text).status == "confirmed", read_intent(text).reasons


@pytest.mark.parametrize("text", NOT_REFUSALS)
def test_idioms_of_the_same_shape_are_no_refusal(text: str) -> None:
    assert read_intent(text).status != "declined", read_intent(text).reasons
