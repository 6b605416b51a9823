"""Where a reply's quoted history starts (steps 1–4 of gateway/parse/reply.py) and, with ``>``
quoting, which unquoted lines between the quoted blocks are inline answers.

:func:`find_quote_start` reads a :class:`View` of the body's lines and returns a :class:`Cut`:
where the sender's own text begins (an attribution the client put on the very first line is
skipped), where the history begins and how — ``block`` (everything below is history) or
``angle`` (``>`` quoting, with answers in between, split by :func:`interleaved`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.parse import reply_headers as headers
from gateway.parse import reply_rules as rules
from gateway.parse.reply_signature import stripped

_SENTENCE_END = (".", "。", "!", "！", "?", "？")


class View:
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


def find_quote_start(view: View) -> Cut:
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


def _is_hard_start(view: View, index: int) -> bool:
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


def _header_follows(view: View, index: int) -> bool:
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


def _attribution_span(view: View, index: int) -> int:
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


def _possible_ends(view: View, index: int) -> set[int]:
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


def _attribution_alone(view: View, index: int) -> bool:
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

    def __init__(self, view: View, index: int) -> None:
        self.view, self.index = view, index

    def __call__(self) -> bool:
        view = self.view
        following = [i for i in range(self.index, min(self.index + 4, len(view)))
                     if view.text[i]][:2]
        return any(view.angle[i] for i in following)


def _attribution_kind(view: View, index: int) -> str:
    """Attribution followed by ``>`` lines may introduce an inline reply."""
    following = [i for i in range(index, min(index + 6, len(view))) if view.text[i]][:3]
    return "angle" if any(view.angle[i] for i in following) else "block"


def interleaved(view: View, start: int) -> tuple[list[str], list[str]]:
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


def first_angle(view: View, start: int) -> int | None:
    return next((i for i in range(start, len(view)) if view.angle[i]), None)
