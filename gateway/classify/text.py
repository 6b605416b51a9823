"""What the classification rules read: a message's text split by where a cue stands.

Pure functions over strings. A cue's place says how much it tells about the message's purpose:

* the **subject** says what the message is; its **head noun** ("…的决定", "…质量状况报告",
  "Monthly SLA Report - May", "Invitation: …") most of all (:func:`head_parts`);
* the **lead**, the first line of the body that is not a greeting ("张伟：", "Hi Li,"), says
  what the sender wants;
* the **rest** of the body often only mentions things (a document, an earlier incident).

Before any rule reads a text, :func:`readable` blanks what is not the sender's own statement:
quoted words (“漏洞排查”, "done", 「…」), document names in 《…》 (a mention, not the
document) and quantities with a unit ("40 minutes", "40 分钟" are durations, not meeting
minutes). Blanking keeps every other character where it was, so clause boundaries (used by
negations and hypotheticals) stay where they were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_QUOTED = re.compile(r"“[^”\n]{0,60}”|‘[^’\n]{0,60}’|「[^」\n]{0,60}」|『[^』\n]{0,60}』"
                     r"|\"[^\"\n]{1,60}\"")
_DOC_NAME = re.compile(r"《[^》\n]{0,60}》")
_QUANTITY = re.compile(
    r"(?:\d+(?:\.\d+)?|\b(?:a few|few|several|a couple of|many|some|ten|twenty|thirty|forty"
    r"|fifty|sixty|ninety)\b|[几数半两一二三四五六七八九十]+)\s*(?:个)?\s*"
    r"(?:minutes?|mins?|hours?|hrs?|seconds?|secs?|days?|weeks?|months?"
    r"|分钟|小时|秒钟?|天|周|个月)(?![A-Za-z])", re.IGNORECASE)
_GREETING = re.compile(
    r"^\s*(?:(?:dear|hi|hello|hey|尊敬的)\b[^\n]{0,40}|[^\n]{1,20}[：:，,]\s*|[^\n]{1,12}(?:您好|你好|好)"
    r"[，,！!：:]?\s*)$", re.IGNORECASE)
_HEAD_SPLIT = re.compile(r"\s*(?:[:：|｜]|\s[-–—]\s|——)\s*")
_HEAD_TRAIL = re.compile(r"(?:\s*[（(][^）)]{0,20}[）)]|[\s。.!！?？…~]+)+$")
_TAGS = re.compile(r"[【\[〔［〖][^】\]〕］〗]{1,30}[】\]〕］〗]")
_CLAUSE = re.compile(r"[。！？!?；;\n]|\.(?:\s|$)")


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def readable(text: str, *, subject: bool = False,
             not_cues: re.Pattern[str] | None = None) -> str:
    """``text`` with quoted words, quantities with units, fixed expressions that are no cue
    (``not_cues``: 紧急联系人) and (in a body) 《document names》 blanked out; the subject keeps
    its 《…》: there the name is what the message is."""
    if not_cues is not None:
        text = not_cues.sub(_blank, text)
    text = _QUOTED.sub(_blank, text)
    text = _QUANTITY.sub(_blank, text)
    return text if subject else _DOC_NAME.sub(_blank, text)


@dataclass(frozen=True)
class Body:
    lead: str  # the first line that is not a greeting
    rest: str


def split_body(text: str, *, lead_chars: int = 200) -> Body:
    """The lead (first non-greeting line, at most ``lead_chars``) and the rest of a body."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if not line.strip() or _GREETING.match(line):
            continue
        lead = line[:lead_chars]
        rest = "\n".join([line[lead_chars:], *lines[index + 1:]])
        return Body(lead, rest)
    return Body("", text)


def head_parts(subject: str) -> tuple[str, ...]:
    """The parts of the subject a head noun can end: split at ``:``/``：``/`` - ``/``|``,
    tags and trailing brackets or punctuation removed ("Monthly SLA Report - May" →
    ("Monthly SLA Report", "May"))."""
    bare = _TAGS.sub(" ", subject).strip()
    parts = (_HEAD_TRAIL.sub("", part).strip() for part in _HEAD_SPLIT.split(bare))
    return tuple(p for p in parts if p)


def ends_head(subject: str, end: int) -> bool:
    """Whether a match ending at ``end`` ends its part of the subject (is its head noun):
    "二季度质量状况报告" yes; "关于本月巡检报告提交时间" no — there the report is mentioned."""
    rest = _HEAD_SPLIT.split(subject[end:], maxsplit=1)[0]
    return not _HEAD_TRAIL.sub("", _TAGS.sub(" ", rest)).strip()


def clause_before(text: str, start: int) -> str:
    """The part of the clause (sentence) in ``text`` before position ``start``."""
    before = text[:start]
    breaks = list(_CLAUSE.finditer(before))
    return before[breaks[-1].end():] if breaks else before
