"""Signatures: where the sender's own text ends and their sign-off, footer or contact block begins.

Called by :mod:`gateway.parse.reply` on the own lines once quoted history is gone. Strong starts
cut at the first match (RFC 3676 §4.3 ``-- ``, client footers such as "发自我的iPhone" or
"获取 Outlook for iOS", disclaimers: :data:`gateway.parse.reply_rules.SIGNATURE_START`); weak ones
— a closing ("Best regards", "此致"), the sender's name, a contact block, Foxmail's bare address —
only near the end and never on the first line, so a reply is never emptied on weak evidence.
"""

from __future__ import annotations

import re

from gateway.parse import reply_rules as rules

_NAME_NOISE = re.compile(r"[\"'<>()]")
_NOT_A_NAME = re.compile(r"[.:;,。：；，!?]$|[:：]")
_TAIL = 8                  # weak signature rules look at this many last non-blank lines
_SENTENCE = re.compile(r"[。！？?!]|[.;]\s*$|\b(?:but|can't|cannot|not|won't|please)\b", re.I)
_CJK = re.compile(r"[\u3400-\u9fff]")
_ORG = re.compile(r"部|中心|公司|集团|科|处|组|室|局|院|所|厂|经理|总监|主管|专员|工程师|主任|总裁|"
                  r"董事|负责人|助理|顾问|架构师|运维|研发|技术|事业|分公司|有限|股份")
_SMALL = frozenset({"of", "and", "the", "for", "de", "van", "von", "&", "at"})


def stripped(line: str) -> str:
    """A line without surrounding spaces and the ``*bold*`` stars QQ Mail's plain text adds."""
    return line.strip().strip("*").strip()


def cut_signature(lines: list[str], sender_name: str) -> tuple[list[str], list[str]]:
    """``(own lines, signature lines)`` of the own lines of a reply."""
    content = [i for i, line in enumerate(lines) if line.strip()]
    if not content:
        return lines, []
    for index in content:
        text = stripped(lines[index]) or lines[index].strip()
        if len(text) <= rules.MAX_LINE and rules.SIGNATURE_START.match(text):
            return lines[:index], lines[index:]
    weak = _weak_signature_start(lines, content, sender_name)
    if weak is not None:
        return lines[:weak], lines[weak:]
    return lines, []


def _weak_signature_start(lines: list[str], content: list[int], sender_name: str) -> int | None:
    """Closing line, sender's name or a contact block near the end; never the first line."""
    tail = content[-_TAIL:]
    names = _name_tokens(sender_name)
    for position, index in enumerate(tail):
        if index == content[0]:
            continue
        after = [lines[i].strip() for i in tail[position + 1:]]
        if len(after) > 6 or any(len(line) > 70 for line in after):
            continue
        text = stripped(lines[index])
        if not all(_signature_like(line) for line in after):
            continue  # "谢谢\n但今晚去不了": what follows a closing must read as a signature
        if rules.CLOSINGS.match(text) or (not after and rules.BARE_ADDRESS.match(text)):
            return index  # a closing, or Foxmail's default signature: an address, last
        if names and _starts_with_name(text, names) and len(text) <= 60:
            return index
        if len(after) >= 2 and len(text) <= 30 and 2 * _contacts(after) >= len(after) >= 2 \
                and _contacts(after) >= 2 and not _NOT_A_NAME.search(text) \
                and not rules.CONTACT.search(text):
            return index
    return None


def _signature_like(line: str) -> bool:
    """A line a sign-off block holds: a name, a title or unit, contacts — never a sentence."""
    text = line.strip(" *|-–—")
    if not text or rules.CONTACT.search(text) or rules.CLOSINGS.match(text):
        return True
    if _SENTENCE.search(text):
        return False
    if _CJK.search(text):
        return len(text) <= 4 or _ORG.search(text) is not None  # 刘洋 / 运维部 / 项目经理
    words = text.replace(",", " ").split()
    return len(words) <= 5 and all(not w[:1].isalpha() or w[:1].isupper() or w in _SMALL
                                   for w in words)  # "Liu Yang", "Head of Operations"


def _contacts(lines: list[str]) -> int:
    return sum(1 for line in lines if rules.CONTACT.search(line))


def _name_tokens(sender_name: str) -> list[str]:
    name = _NAME_NOISE.sub(" ", sender_name).strip()
    return [token for token in [name, *name.split()] if len(token) >= 2]


def _starts_with_name(text: str, names: list[str]) -> bool:
    lowered = text.lower()
    return any(lowered == n.lower() or lowered.startswith(n.lower() + " ") for n in names)
