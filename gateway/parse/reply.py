"""Reply splitting: the sender's own new text, apart from quoted history and the signature.

The receipts stage reads only ``own_text`` ("收到", "noted", "无法按期"), so a quote header that
slips through would make an old "已确认" count again. Quoted history is found by its structure,
not by a list of first words. Per line, the first quote start wins:

1. a separator (``-----Original Message-----``, QQ/Foxmail ``---- 原始邮件 ----``, Mail Master
   ``---- 回复的原邮件 ----``, Samsung ``-------- 原始信息 --------``…);
2. a header block (:mod:`gateway.parse.reply_headers`): a few short ``label: value`` lines with a
   sender and a date, in any language, with or without a rule or a lone "Original" line above;
3. an attribution: a line (or two or three wrapped ones) ending in a "wrote" verb in one of many
   languages and carrying a date, an address or an opening word ("On …", "在 …", "Le …"), Zoho's
   ``---- On … wrote ----`` frame, or Gmail's verbless ``<date> Name <addr>:``;
4. ``>`` quoting.

An attribution in the middle of the text with no ``>`` quoting below it must carry an address
("…, as Zhang Wei wrote:" is a sentence). Then: with ``>`` quoting, unquoted lines between quoted
blocks are inline answers; when the text above the quote only points into it ("见下文",
"see inline"), those answers *are* the reply — or, with no ``>`` quoting, the comments Outlook
marks inside the original ("[Liu Yang] …", "【刘洋】…"); text below an attribution at the very
top that is not ``>``-quoted is the reply (the client put the attribution first).

The signature is cut from the own text at ``-- `` (RFC 3676 §4.3), a client footer
("发自我的iPhone", "获取 Outlook for iOS", "来自钉钉专属商务邮箱", "Sent from my…"), a disclaimer,
or — weaker, never emptying the reply, and only above lines that read as a signature — a
closing or the sender's name (:mod:`gateway.parse.reply_signature`). HTML bodies are first cut
at their quote containers (:mod:`gateway.parse.reply_html`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from gateway.parse import reply_headers as headers
from gateway.parse import reply_rules as rules
from gateway.parse.model import ReplyParts
from gateway.parse.reply_html import html_angle_text, html_reply_text
from gateway.parse.reply_signature import cut_signature, stripped

_MAX_LINES = 20_000        # beyond this the tail is treated as history without inspection
_SENTENCE_END = (".", "。", "!", "！", "?", "？")
_BLANK_RUNS = re.compile(r"\n{3,}")
_PUNCTUATION = re.compile(r"[\s\W_]+")


def split_reply(text: str, html: str | None = None, *, sender_name: str = "") -> ReplyParts:
    """Split a reply body; ``html`` is used when ``text`` is empty (HTML-only mail)."""
    if text.strip() or not html:
        parts = _split_text(text, sender_name)
        if html and is_pointer_only(parts.own_text):
            return _inline_from_html(html, sender_name) or parts
        return parts
    own, html_signature, html_quoted = html_reply_text(html)
    parts = _split_text(own, sender_name)
    if is_pointer_only(parts.own_text):
        inline = _inline_from_html(html, sender_name)
        if inline is not None:
            return inline
        marked = marked_answers(html_quoted.split("\n"))
        if marked:
            return ReplyParts(own_text="\n".join(marked), quoted_text=_join(parts.own_text,
                              html_quoted), signature=_join(parts.signature, html_signature))
    return ReplyParts(
        own_text=parts.own_text,
        quoted_text=_join(parts.quoted_text, html_quoted),
        signature=_join(parts.signature, html_signature),
    )


def _inline_from_html(html: str, sender_name: str) -> ReplyParts | None:
    """Answers written between the blockquotes of an HTML reply ("见下文" above them)."""
    if "<blockquote" not in html.lower():
        return None
    parts = _split_text(html_angle_text(html), sender_name)
    if not parts.own_text or is_pointer_only(parts.own_text):
        return None
    return parts


def _join(*pieces: str) -> str:
    return "\n\n".join(piece for piece in pieces if piece.strip())


def _lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # QQ Mail's plain-text part sometimes keeps "&nbsp;" from its HTML editor.
    text = text.replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u3000", " ")
    lines: list[str] = []
    for line in text.split("\n"):
        lines.extend(_unglue(line))
    return lines


def _unglue(line: str) -> list[str]:
    """DingTalk/Alimail glue their footer to the rule: "来自钉钉专属商务邮箱-----…"."""
    end = line.rstrip()
    if not end.endswith("-" * rules.GLUED_RULE_MIN):
        return [line]
    core = end.rstrip("-")
    if len(core) > 80 or not rules.SIGNATURE_START.match(core.strip()):
        return [line]  # only a client footer is glued so; a diffstat "| 70 +++---" is not
    return [core, end[len(core):]]


def _clean(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines).strip("\n").strip()
    return _BLANK_RUNS.sub("\n\n", text)


class _View:
    """The lines of a body with their stripped forms and field shapes computed once."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.text = [stripped(line) for line in lines]
        self.angle = [line.lstrip().startswith(">") for line in lines]
        self.fields = [headers.field_of(text) for text in self.text]
        self.bare = [_unquote(text) for text in self.text]
        self.may_end = [_may_end_attribution(text) for text in self.bare]

    def __len__(self) -> int:
        return len(self.lines)


@dataclass(frozen=True, slots=True)
class Cut:
    """Where the own text begins, where quoted history begins (``None``: never) and how."""

    own_from: int
    start: int | None
    kind: str = ""           # "block": all history below; "angle": ">" quoting, inline answers


def find_quote_start(view: _View) -> Cut:
    """The first quote start; an attribution on the first line with no ``>`` below is skipped."""
    own_from = 0
    first = True
    for index, text in enumerate(view.text):
        if not text or index < own_from:
            continue
        if view.angle[index]:
            return Cut(own_from, index, "angle")
        if _is_hard_start(view, index):
            return Cut(own_from, index, "block")
        span = _attribution_span(view, index)
        if span:
            kind = _attribution_kind(view, index + span)
            if kind == "block" and first:
                own_from = index + span  # the client wrote the attribution above the reply
                first = False
                continue
            if kind == "angle" or any(rules.ADDRESS.search(view.text[i])
                                      for i in range(index, index + span)):
                return Cut(own_from, index, kind)
            # "…, as Zhang Wei wrote:" mid-text with no ">" below and no address: a sentence
        first = False
    return Cut(own_from, None)


def _is_hard_start(view: _View, index: int) -> bool:
    text = view.text[index]
    if len(text) > rules.MAX_LINE:
        return False
    if text[:1] in rules.SEPARATOR_FIRST and rules.SEPARATOR.match(text):
        return True
    if rules.RULE_LINE.match(text) or rules.LONE_ORIGINAL.match(text):
        return _header_follows(view, index + 1)
    if view.fields[index] is None:
        return False
    return headers.block_at(view.text, index, view.fields) > 0 or headers.inline_header(text)


def _header_follows(view: _View, index: int) -> bool:
    """A header block within the next lines, past blanks and one more rule or "Original" line."""
    seen = 0
    for position in range(index, min(index + 4, len(view))):
        text = view.text[position]
        if not text:
            continue
        if view.fields[position] is not None and (
                headers.block_at(view.text, position, view.fields) or headers.inline_header(text)):
            return True
        seen += 1
        if seen > 1 or not (rules.RULE_LINE.match(text) or rules.LONE_ORIGINAL.match(text)):
            return False
    return False


def _unquote(text: str) -> str:
    return text.lstrip("> ").strip()


def _attribution_span(view: _View, index: int) -> int:
    """How many lines the attribution starting at ``index`` covers (0: none)."""
    first = view.bare[index]
    if not first or len(first) > rules.MAX_LINE:
        return 0
    ends = _possible_ends(view, index)
    if not ends:
        return 0  # the common case, decided without a regex over the line
    wraps = bool(rules.OPENING.match(first) or rules.OPENING_CJK.match(first)
                 or rules.DATE.search(first) or rules.ADDRESS.search(first))
    pieces = [first]
    for extra in (0, 1, 2):
        if extra:
            position = index + extra
            if position >= len(view) or not wraps:
                break
            piece = view.bare[position]
            shape = view.fields[position]
            if not piece or len(piece) > 200 or (shape is not None and shape.kind) \
                    or pieces[-1].endswith(_SENTENCE_END) or (
                        _attribution_alone(view, position)
                        and not rules.ADDRESS.search(pieces[-1])):
                break  # a wrapped attribution has no blank line, field or sentence end inside
            pieces.append(piece)
        candidate = "".join(piece if not position or pieces[position - 1].endswith(("<", "("))
                            else " " + piece for position, piece in enumerate(pieces))
        if len(candidate) > rules.MAX_LINE:
            break
        if extra in ends and _is_attribution(candidate, _AngleFollows(view, index + extra + 1)):
            return extra + 1
    return 0


def _possible_ends(view: _View, index: int) -> set[int]:
    """Which of the lines ``index``, ``index + 1``, ``index + 2`` could end an attribution."""
    ends: set[int] = set()
    for extra in (0, 1, 2):
        position = index + extra
        if position >= len(view) or not view.text[position]:
            break
        if view.may_end[position]:
            ends.add(extra)
    return ends


def _may_end_attribution(piece: str) -> bool:
    """Cheap test first: a colon, an address bracket, Zoho's dashes or a "wrote" verb at the end."""
    tail = piece.rstrip("- ")
    if not tail:
        return False
    return tail[-1] in ":：>)" or rules.ends_with_wrote(tail[-24:])


def _attribution_alone(view: _View, index: int) -> bool:
    """Is the line at ``index`` an attribution by itself (then it does not continue another)?"""
    text = view.bare[index]
    if len(text) > rules.MAX_LINE or not (rules.OPENING.match(text) or rules.DATE.search(text)):
        return False  # "lina@x.cn> wrote:" is the end of a wrapped one, not a new one
    return _is_attribution(text, _AngleFollows(view, index + 1))


def _is_attribution(text: str, angle_follows: Callable[[], bool]) -> bool:
    text = rules.ZOHO_FRAME.sub("", text)
    if not text.endswith((":", "：", ">", ")")) and not text[-1:].isalpha():
        return False
    if rules.ADDRESS_COLON_END.search(text) and rules.DATE.search(text):
        return True  # Gmail ja/ru/zh: "2026年11月20日(金) 10:00 Zhang Wei <zw@x.cn>:"
    if not rules.ends_with_wrote(text[-24:]):
        # "Am 24.11.26 um 10:00 schrieb Li Na:", "Li Na <x@y> kirjoitti 24.11.2026 kello 10.00:":
        # the verb inside, a date, an opening word or an address, and a colon
        return bool(text.endswith((":", "：")) and rules.DATE.search(text)
                    and (rules.OPENING.match(text) or rules.ADDRESS.search(text))
                    and rules.VERB_INSIDE.search(text))
    if rules.OPENING.match(text) or rules.OPENING_CJK.match(text) or rules.DATE.search(text) \
            or rules.ADDRESS.search(text):
        return True
    # "Zhang Wei wrote:" (Thunderbird) only counts right above ">" quoting.
    return text.endswith((":", "：")) and len(text) <= 80 and angle_follows()


class _AngleFollows:
    """Asked lazily: is one of the next two non-blank lines ``>``-quoted?"""

    def __init__(self, view: _View, index: int) -> None:
        self.view, self.index = view, index

    def __call__(self) -> bool:
        view = self.view
        following = [i for i in range(self.index, min(self.index + 4, len(view)))
                     if view.text[i]][:2]
        return any(view.angle[i] for i in following)


def _attribution_kind(view: _View, index: int) -> str:
    """Attribution followed by ``>`` lines may introduce an inline reply."""
    following = [i for i in range(index, min(index + 6, len(view))) if view.text[i]][:3]
    return "angle" if any(view.angle[i] for i in following) else "block"


def _interleaved(view: _View, start: int) -> tuple[list[str], list[str]]:
    """Unquoted lines among ``>`` quoting (inline answers); a hard separator ends them."""
    own: list[str] = []
    quoted: list[str] = []
    skip = 0
    for index in range(start, len(view)):
        line = view.lines[index]
        span = 0 if view.angle[index] or not view.text[index] else _attribution_span(view, index)
        if skip or view.angle[index] or span:
            quoted.append(line)
            skip = max(skip - 1, span - 1, 0)
            continue
        if view.text[index] and _is_hard_start(view, index):
            return own, quoted + view.lines[index:]
        own.append(line)
    return own, quoted


def _first_angle(view: _View, start: int) -> int | None:
    return next((i for i in range(start, len(view)) if view.angle[i]), None)


def _split_text(text: str, sender_name: str) -> ReplyParts:
    lines = _lines(text)
    head, rest = lines[:_MAX_LINES], lines[_MAX_LINES:]
    view = _View(head)
    cut = find_quote_start(view)
    lead = head[:cut.own_from]
    inline: list[str]
    if cut.start is None:
        top, inline, quoted = head[cut.own_from:], [], rest
    elif cut.kind == "angle":
        top = head[cut.own_from:cut.start]
        inline, quoted = _interleaved(view, cut.start)
        quoted += rest
    else:
        top, inline, quoted = head[cut.own_from:cut.start], [], head[cut.start:] + rest
        if is_pointer_only(_clean(top)):
            # "答复见下文" above an Outlook header: the answers are among the ">" lines below.
            angle = _first_angle(view, cut.start)
            if angle is not None:
                inline, _ = _interleaved(view, angle)
            else:  # Outlook's "mark my comments with [Liu Yang]" inside an unquoted original
                inline = marked_answers(head[cut.start:])
    if inline and any(line.strip() for line in inline) and is_pointer_only(_clean(top)):
        top = []  # the pointer said where the answer is; the answer is the reply
    own_lines = top + (["", *inline] if top and inline else inline)
    own, signature = cut_signature(own_lines, sender_name)
    while own and (not own[-1].strip() or rules.RULE_LINE.match(stripped(own[-1]))):
        line = own.pop()  # a rule under the reply (Foxmail's <hr> above its signature)
        if line.strip():
            signature = [line, *signature]
    return ReplyParts(own_text=_clean(own), quoted_text=_clean(lead + quoted),
                      signature=_clean(signature))


def marked_answers(lines: list[str]) -> list[str]:
    """Answers marked inside an unquoted original: "[Liu Yang] 可以", "【刘洋】可以", "答：可以"."""
    found = []
    for line in lines[:_MAX_LINES]:
        marked = rules.ANSWER_MARK.match(line.strip())
        if marked and marked.group(1).strip():
            found.append(marked.group(1).strip())
    return found


def is_pointer_only(text: str) -> bool:
    """Is ``text`` only a pointer into the quote ("答复见下文", "see inline"), greetings aside?"""
    if not text or len(text) > 300:
        return False
    pointed = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if rules.POINTER.search(line):
            if _PUNCTUATION.sub("", rules.POINTER.sub("", line)):
                return False
            pointed = True
        elif not rules.GREETING.match(line):
            return False
    return pointed
