"""What a reply says about a directive: the ``receipts`` stage's reading of a reply's own text.

DESIGN.md 4.3: a reply that threads to a message needing receipts moves the sender's receipt to
``confirmed`` ("收到", "明白", "noted"), ``questioned`` ("不太明白…？", "what do you mean") or
``declined`` ("无法按期", "cannot"); anything else stays ``unclear`` for a person to look at. The
input is the reply's *own* new text — quotes and signatures are already stripped by ``parse``.

The reading is a declared table of rules (:data:`RULES`), applied in order to a normalised copy of
the text (NFKC, so full-width ``ＯＫ？！`` reads as ``ok?!``; case-folded; emoji modifiers dropped;
spaces around Chinese removed). Each match is blanked out before the next rule runs, so the more
specific phrase wins over the words inside it: "不明白" is consumed as a negation before "明白"
could confirm, "没问题" confirms before "问题" could raise a question, "能不能" is a question before
"不能" could decline. The result is the strongest status any rule found —
declined > questioned > confirmed > unclear — so a mixed reply ("收到，但…是否需要…？",
"OK but which switch?") is ``questioned``: the policy asks for confirmed *understanding*, and a
reservation or a question means the sender still has work to do. Refusals need no "无法": a
verb with a potential complement of inability (去不了, 排不开, 忙不过来, 赶不及) or a forced
postponement (只能顺延到…, "we'll have to postpone") declines, while asking to move it ("能否改到
周四？") stays a question; a check of one's own before the work ("执行前会再确认一次") is part of
carrying it out, not a request to the sender. ``reasons`` lists every match,
in text order, as ``"<rule>: <matched text>"`` (the first 20). Every pattern is bounded, so a
hostile 100 kB reply reads in well under a second.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["RULES", "Intent", "IntentStatus", "Rule", "read_intent"]

IntentStatus = Literal["confirmed", "questioned", "declined", "unclear"]

_PRECEDENCE: tuple[IntentStatus, ...] = ("declined", "questioned", "confirmed")
_MAX_REASONS = 20  # enough to audit a reply; a pasted novel must not bloat the receipt row


@dataclass(frozen=True)
class Intent:
    """The reading of one reply: its status and the rule matches that led there."""

    status: IntentStatus
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rule:
    """One named pattern; ``status`` None means "consume, but say nothing" (courtesy phrases).

    ``target`` is the group that is consumed and reported (0: the whole match); the rest of the
    match is context only, as a lookbehind of variable width would be.
    """

    name: str
    status: IntentStatus | None
    pattern: re.Pattern[str]
    target: int = 0


def _en(*phrases: str) -> str:
    """English phrases as whole words (Chinese characters count as a boundary: "ok了")."""
    return r"(?<![a-z'])(?:" + "|".join(phrases) + r")(?![a-z])"


def _alone(*words: str) -> str:
    """Words that only count as a whole clause of their own: "好。", "好的~", "行!", "yes"."""
    particles = r"[的了啊呀吧哈啦嘞滴哒呢嗯哦噢~]*"
    return r"(?<!\w)(?:" + "|".join(words) + r")" + particles + r"(?!\w)"


def _rule(name: str, status: IntentStatus | None, *patterns: str, target: int = 0) -> Rule:
    return Rule(name, status, re.compile("|".join(f"(?:{p})" for p in patterns)), target)


_NEG = r"(?:不|没有|没|未|尚未|还没有|还没|并没有|并没|并不|并未)"
_DEGREE = r"(?:太|是很|是太|很|怎么|大|完全|全|十分|特别|是特别|非常|是非常|能|会|是)?"
_EN_NOT = r"(?:(?<![a-z])not|n't|(?<![a-z])never)\s+(?:[a-z]+\s+){0,2}?"
_CN_QUESTION_WORDS = (r"请问|是否|是指|能否|可否|有无|什么意思|啥意思|什么|啥|哪(?!怕)|怎么|怎样"
                      r"|如何|为什么|为何|多少|几点|几号|几时|何时|咋|谁")

RULES: tuple[Rule, ...] = (
    # Courtesy and conditional offers that contain trigger words but say nothing about the
    # directive: "不好意思" (sorry), "没关系", "如有问题请联系", "let me know if…".
    _rule("courtesy", None,
          r"不好意思|不客气|不用谢|没关系|没事|哪怕|没什么(?!问题)",
          r"如有(?:任何|什么)?(?:问题|疑问)|有(?:任何|什么)?(?:问题|疑问)(?:的话)?"
          r"(?:请|再|随时|及时|可以|可|就|我会)",
          r"(?:去|再|先)?了解一下|了解下|(?<![请需要待再])确认一下",
          _en(r"if (?:you have )?any (?:questions?|problems?|issues?)", r"let me know if",
              r"feel free to")),
    # "正在处理呢", "忙着呢": 呢 closing a progressive clause is a statement, not a question.
    _rule("progressive", None, r"(?:正在|在|着)[^\W吗]{0,30}?(呢)(?!\w)", target=1),
    # "能不能", "是不是", "有没有", "可不可以": a question, never a "不能"/"不是"/"没有".
    _rule("question", "questioned", r"((?![不没])[\u4e00-\u9fff])[不没]\1"),
    # "No problem" confirms before "问题"/"problem" could raise a question.
    _rule("confirm", "confirmed",
          r"没(?:有)?(?:什么|啥|太大)?问题|无问题|没(?:有)?(?:意见|异议|疑问)|无(?:异议|疑问)",
          _en(r"no problems?", r"no prob", r"no issues?", r"no worries", r"not a problem",
              r"no objections?", r"no (?:further )?questions")),
    # A self-imposed later check ("执行前会再确认一次清单版本", "will double-check before we
    # start") is part of carrying the directive out, not a request to the sender: anchored to
    # the work ("执行前…") it confirms; bare ("我会再核实") it is only consumed.
    _rule("later-check", "confirmed",
          r"(?:执行|开始|实施|操作|上线|割接|变更|出发|动手|施工|升级)(?:之)?前(?:我|我们|我方)?"
          r"(?:会|将|要|再)(?:再|先|自行|提前|重新)?(?:确认|核实|核对|检查|复核|核查|过)一?(?:次|遍|下)?"),
    _rule("self-check", None,
          r"(?:我|我们|我方|自己|届时|到时候?|稍后|之后)(?:会|将)(?:再|先|自行|提前|重新)?"
          r"(?:确认|核实|核对|检查|复核|核查)|(?:会|将)(?:再|自行|重新)(?:确认|核实|核对|检查|复核)",
          _en(r"(?:i|we)?(?:'ll| will) (?:double[- ]?check|re-?check|check again|verify|"
              r"check once more|confirm once more|re-?confirm)")),
    # The directive could not be read: a question for the sender, not a refusal.
    _rule("unreadable", "questioned",
          r"(?:打不开|看不到|看不了|看不清|无法(?:打开|查看|下载|访问)|下载不了|乱码|显示不全)",
          r"附件(?:没有|没|缺失|丢失|是空的|为空)|没(?:有)?(?:看到|收到)附件",
          _en(r"(?:can't|cannot|can not|unable to|couldn't|could not) (?:open|see|view|read|"
              r"download|access|find)", r"(?:no|missing) attachments?", r"attachment is missing")),
    # Negated understanding or receipt: "不明白", "不太清楚", "没收到", "don't understand".
    _rule("not-understood", "questioned",
          _NEG + _DEGREE + r"(?:明白|了解|清楚|理解|懂|看懂|听懂|收到|确认|确定|知道)",
          r"[看搞弄读想听]不(?:懂|明白|清楚?)|理解不了|(?:无法|不能|难以)(?:理解|确定|明白)",
          r"有(?:个|一个|几个|些|点)?(?:问题|疑问)",
          _EN_NOT + r"(?:understand|understood|clear|sure|received?|got|get|follow|know)"
          r"(?![a-z])",
          _en(r"unclear", r"confus(?:ed|ing)", r"no idea", r"misunderst(?:and|ood)",
              r"(?:a|one|quick|some) (?:question|doubt|concern)s?")),
    # The reply asks the sender for something: "请再发一下", "需要再确认", "please clarify".
    _rule("request", "questioned",
          r"(?:请|麻烦|烦请|劳烦|帮忙|帮我)(?:您|你)?(?:再|重新)?(?:发|提供|补充|说明|解释|告知|明确"
          r"|确认|澄清|指示|核实)",
          r"(?:需要|需|待|要|再)(?:再|进一步)?(?:确认|澄清|明确|核实|沟通|讨论|商量)",
          _en(r"please (?:re-?send|send|clarify|explain|advise|confirm|provide|elaborate|specify)",
              r"(?:could|can|would) you (?:please )?(?:clarify|explain|confirm|re-?send|send|"
              r"provide|elaborate|specify|check)")),
    # Verb + potential complement of inability: 去不了, 改不了, 排不开, 忙不过来, 赶不及, 顾不上.
    # Idioms of the same shape that are no refusal are left alone (少不了, 离不开, 等不及, 错不了).
    _rule("cannot-verb", "declined",
          r"(?<!了)(?![少免大差错忘受离分想等迫措料看搞弄读听用算手误])[\u4e00-\u9fff]"
          r"(?:不了|不开|不过来|不及|不完|不动)(?!解)",
          r"(?:赶|跟|顾|排|抽|轮|够)不上",
          r"只能(?:等到|到|在|放在|改在|排在|安排在|推到)?(?:下周|下星期|下礼拜|下个?月|明天|明日|后天"
          r"|节后|年后|月底|以后|之后|过几天|改天)",
          r"[搞弄办整]不定|定不下来|有(?:一定|很大|较大|点|些)?难度|无力|无暇|[腾挤]不出|抽不开身",
          r"暂(?:时)?不(?:能|便|执行|安排|处理|考虑|接受|同意|做|去|参加|实施)|暂缓|先不(?:做|执行|安排|处理)",
          r"(?:估计|恐怕|可能|会|要|得)(?:要|会|得)?(?:晚|推迟|延迟|延后|拖)"
          r"(?:一|两|二|三|几|半|\d+)(?:点|些|天|日|周|个?小时|个?工作日)",
          r"(?:估计|恐怕|可能|只好)(?:要|会|得)?(?:推迟|延迟|延期|延后|顺延)",
          r"(?:只能|只好|只得|不得不|恐怕要|恐怕得|可能要|可能得|得|必须)(?:往后)?(?:顺延|延后|延期|推迟|推后"
          r"|往后推|延到|推到|改到|改在|放到|等到|安排到|挪到)",
          _en(r"(?:have|has|will have|'ll have|'d have|going to have|must|need) to (?:postpone|"
              r"push (?:it |this |that )?back|delay|reschedule|defer)",
              r"can only (?:do|start|finish|make|come|go|begin|deliver|be)",
              r"(?:won't|will not|not going to|can't|cannot) (?:make it|manage|happen|be done|"
              r"finish|attend|come|join|do it|do that|do this)",
              r"not available", r"unavailable", r"too busy", r"no (?:capacity|bandwidth|time)",
              r"out of the question", r"not in a position to", r"no longer (?:possible|able)",
              r"(?:i|we) (?:can't|cannot|won't)", r"not going to work",
              r"not (?:this week|today|tonight|tomorrow|before)",
              r"(?:i|we)(?:'d| would) rather not", r"have to (?:decline|pass)")),
    _rule("decline", "declined",
          r"无法|没法|没(?:有)?办法|做不到|办不到|做不了|完成不了|来不及|赶不上|不能|不可以|不行"
          r"|不同意|不接受|不认可|不赞同|不赞成|拒绝|反对|有异议|不方便|不可能|(?:有|有点|比较|很)困难"
          r"|难以(?:完成|按期|执行)|恐怕不行?|没空|没时间|抽不出|(?:时间|人手|人力)不够",
          _en(r"cannot", r"can't", r"can not", r"unable to", r"not able to",
              r"won't be able", r"will not be able", r"won't make it", r"will not make it",
              r"couldn't", r"could not", r"disagree", r"(?:don't|do not|not) agree",
              r"reject(?:ed)?", r"declined?", r"refuse[ds]?", r"not possible", r"impossible",
              r"not ok(?:ay)?", r"not acceptable", r"unacceptable", r"no way", r"too late",
              r"not feasible", r"object to", r"(?:won't|will not|doesn't|does not) work",
              r"need (?:more|extra) time"),
          _alone("不+", "否", "不要", "no+", "nope")),
    _rule("confirm", "confirmed",
          _alone("好", "行", "对", "是", "嗯+", "可以", "是的", "对的", "好吧", "yes", "y", "yep",
                 "yeah", "sure", "fine", "k+", "right", "alright", "all right")),
    _rule("question-mark", "questioned", r"\?+"),
    _rule("question", "questioned", r"吗(?!啡)", _CN_QUESTION_WORDS,
          r"呢(?!\w)",
          _en(r"(?:what|which) (?:do|does|did) (?:you|it|this|that) mean", r"do you mean",
              r"wondering", r"(?:what|which|when|where|why|how|who)\s+(?:is|are|was|were|do|"
              r"does|did|should|shall|can|could|would|will|exactly|to|long|much|many)",
              r"(?:^|(?<=[^\w\s]))\s*(?:is|are|do|does|did|should|shall|can|could|would)\s+(?:i|we|"
              r"you|it|this|that|there|the)")),
    # A reservation after a confirmation ("收到，不过要下周", "OK but…") is not a clean yes.
    _rule("reservation", "questioned", r"但是|但|不过|可是|然而",
          _en(r"but", r"however", r"although", r"though")),
    _rule("confirm", "confirmed",
          r"已?收到|收悉|明白|了解|知道了|知悉|已阅|已?确认|确定|好的|好滴|好嘞|好哒|同意|赞同|认可",
          r"遵照执行|遵照|照办|照做|按(?:要求|计划|时|期)",
          r"(?:马上|立即|立刻|尽快|即刻|这就|随即|正在|已经?|会|将|我来)去?(?:处理|安排|执行|落实|完成"
          r"|办|做|跟进|推进|修改|调整|联系|准备|实施|操作)",
          "[\U0001f44d\U0001f44c\u2705\u2714\u2611\U0001f197\U0001f646\U0001f4af\U0001fae1]",
          _en(r"ok+", r"okay", r"okey", r"o\.k\.?", r"noted", r"acknowledged?", r"ack",
              r"will do", r"confirm(?:ed)?", r"got it", r"gotcha", r"understood", r"understand",
              r"received", r"roger", r"copy that", r"agreed?", r"sounds good", r"looks good",
              r"lgtm", r"all good", r"will (?:handle|take care|comply|follow)", r"on it", r"done",
              r"(?:crystal )?clear", r"makes sense", r"i see")),
)

# Zero-width characters, variation selectors and emoji skin tones carry no meaning here.
_INVISIBLE = re.compile("[\u200b-\u200f\u2060\ufeff\ufe00-\ufe0f\U0001f3fb-\U0001f3ff]")
_CJK = r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff]"
_SPACE_BY_CJK = re.compile(rf"(?<={_CJK})\s+|\s+(?={_CJK})")
_SPACES = re.compile(r"\s+")


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    text = _INVISIBLE.sub("", text)
    text = _SPACE_BY_CJK.sub("", text)
    return _SPACES.sub(" ", text).strip()


def read_intent(own_text: str) -> Intent:
    """Read a reply's own new text as confirmed, questioned, declined or unclear."""
    text = _normalise(own_text)
    found: list[tuple[int, IntentStatus, str]] = []
    for rule in RULES:
        pieces: list[str] = []
        done = 0
        for match in rule.pattern.finditer(text):
            start, end = match.span(rule.target)
            if start < 0:  # the target group took no part in this alternative
                start, end = match.span()
            if rule.status is not None:
                found.append((start, rule.status, f"{rule.name}: {text[start:end].strip()}"))
            # A word character of the same length: positions hold, and what is left beside
            # it does not look like a clause of its own ("恐怕不行" leaves no lone "行").
            pieces += [text[done:start], "_" * (end - start)]
            done = end
        text = "".join([*pieces, text[done:]])
    statuses = {status for _, status, _ in found}
    status: IntentStatus = next((s for s in _PRECEDENCE if s in statuses), "unclear")
    found.sort(key=lambda f: f[0])
    return Intent(status, [reason for _, _, reason in found[:_MAX_REASONS]])
