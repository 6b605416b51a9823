"""Reply splitting: the sender's own new text, apart from quoted history and the signature.

The receipts stage reads only ``own_text`` ("收到", "noted", "无法按期"), so a quote header that
slips through would make an old "已确认" count again. The algorithm, per line:

1. the first quote start wins — a separator (Outlook ``-----Original Message-----``, Foxmail/QQ
   ``------------------ 原始邮件 ------------------``), an Outlook ``From:/Sent:`` or
   ``发件人:/发送时间:`` header block (optionally after an underscore line), an attribution
   (``On … wrote:``, NetEase ``在 …，"张伟" <…> 写道：``, Gmail zh ``于…写道：``) or ``>`` quoting;
2. with ``>`` quoting, unquoted lines between quoted blocks are inline answers and stay own text;
3. the signature is cut from the own text at ``-- `` (RFC 3676 §4.3), a mobile/client footer
   (``发自我的iPhone``, ``Sent from my iPhone``, ``发自网易邮箱大师``), a confidentiality footer,
   or — weaker, never emptying the reply — a closing ("Best regards", "此致") or the sender's name
   followed by a few short lines.
HTML bodies are first cut at their quote containers (:mod:`gateway.parse.reply_html`).
"""

from __future__ import annotations

import re

from gateway.parse import reply_rules as rules
from gateway.parse.model import ReplyParts
from gateway.parse.reply_html import html_reply_text

_MAX_LINES = 20_000        # beyond this the tail is treated as history without inspection
_NAME_NOISE = re.compile(r"[\"'<>()]")
_NOT_A_NAME = re.compile(r"[.:;,。：；，!?]$|[:：]")
_TAIL = 8                  # weak signature rules look at this many last non-blank lines


def split_reply(text: str, html: str | None = None, *, sender_name: str = "") -> ReplyParts:
    """Split a reply body; ``html`` is used when ``text`` is empty (HTML-only mail)."""
    if text.strip() or not html:
        return _split_text(text, sender_name)
    own, html_signature, html_quoted = html_reply_text(html)
    parts = _split_text(own, sender_name)
    return ReplyParts(
        own_text=parts.own_text,
        quoted_text=_join(parts.quoted_text, html_quoted),
        signature=_join(parts.signature, html_signature),
    )


def _join(*pieces: str) -> str:
    return "\n\n".join(piece for piece in pieces if piece.strip())


def _lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # QQ Mail's plain-text part sometimes keeps "&nbsp;" from its HTML editor.
    text = text.replace("&nbsp;", " ").replace("\u00a0", " ").replace("\u3000", " ")
    return text.split("\n")


def _split_text(text: str, sender_name: str) -> ReplyParts:
    lines = _lines(text)
    head, rest = lines[:_MAX_LINES], lines[_MAX_LINES:]
    view = _View(head)
    start, kind = find_quote_start(view)
    if start is None:
        own_lines, quoted_lines = head, rest
    elif kind == "angle":
        own_lines, quoted_lines = _interleaved(view, start)
        quoted_lines += rest
    else:
        own_lines, quoted_lines = head[:start], head[start:] + rest
    own, signature = _cut_signature(own_lines, sender_name)
    return ReplyParts(own_text=_clean(own), quoted_text=_clean(quoted_lines),
                      signature=_clean(signature))


def _clean(lines: list[str]) -> str:
    return "\n".join(line.rstrip() for line in lines).strip("\n").strip()


def _stripped(line: str) -> str:
    return line.strip().strip("*").strip()


class _View:
    """The lines of a body with their stripped forms computed once."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.text = [_stripped(line) for line in lines]
        self.angle = [line.lstrip().startswith(">") for line in lines]

    def __len__(self) -> int:
        return len(self.lines)


def find_quote_start(view: _View) -> tuple[int | None, str]:
    """Index of the first line of quoted history and its kind ("block", "angle"), if any."""
    for index, text in enumerate(view.text):
        if not text:
            continue
        if view.angle[index]:
            return index, "angle"
        if _is_hard_start(view, index):
            return index, "block"
        if _attribution_at(view, index):
            return index, _attribution_kind(view, index)
    return None, ""


def _is_hard_start(view: _View, index: int) -> bool:
    text = view.text[index]
    if not (text[:1] in "-_=" or ":" in text[:24] or "：" in text[:24] or (text[:1].isalpha()
            and text[-1:] in (":", "：", "件"))):
        return False  # cheap pre-check: separators start with -_=, header fields have a colon
    if rules.SEPARATOR.match(text):
        return True
    if rules.UNDERSCORE_LINE.match(text):
        return _header_block_at(view, index + 1)
    return _header_block_at(view, index)


def _header_block_at(view: _View, index: int) -> bool:
    """A ``From:``/``发件人:`` line followed closely by other header fields (Outlook, QQ Mail)."""
    if index >= len(view):
        return False
    first = rules.HEADER_FIELD.match(view.text[index]) if view.text[index] else None
    if first is None or first.group(1).lower() not in rules.FROM_FIELDS:
        return False
    window = [text for text in view.text[index + 1:index + 8] if text][:5]
    return sum(1 for text in window if rules.HEADER_FIELD.match(text)) >= 2


def _attribution_at(view: _View, index: int) -> bool:
    return _attribution_span(view, index) > 0


def _attribution_span(view: _View, index: int) -> int:
    """How many lines the attribution starting at ``index`` covers (0: none)."""
    text = view.text[index]
    if len(text) > 400:
        return 0
    # Gmail and Thunderbird wrap long attributions over two or three lines.
    for extra in (0, 1, 2):
        if index + extra >= len(view) or not view.text[index + extra]:
            break  # a wrapped attribution has no blank line inside
        if extra and (view.angle[index + extra] != view.angle[index]
                      or not rules.WRAPPED_ATTRIBUTION_START.match(text)):
            break
        last = view.text[index + extra]
        if not rules.attribution_hint(last):
            continue
        candidate = " ".join(view.text[index:index + extra + 1])
        if rules.ATTRIBUTION.match(candidate):
            return extra + 1
    return 0


def _attribution_kind(view: _View, index: int) -> str:
    """Attribution followed by ``>`` lines may introduce an inline reply."""
    following = [i for i in range(index + 1, min(index + 6, len(view))) if view.text[i]][:3]
    return "angle" if any(view.angle[i] for i in following) else "block"


def _interleaved(view: _View, start: int) -> tuple[list[str], list[str]]:
    """Own lines are every unquoted line; a later hard separator still ends the reply."""
    own = list(view.lines[:start])
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


def _cut_signature(lines: list[str], sender_name: str) -> tuple[list[str], list[str]]:
    content = [i for i, line in enumerate(lines) if line.strip()]
    if not content:
        return lines, []
    for index in content:
        text = _stripped(lines[index]) or lines[index].strip()
        if rules.SIGNATURE_START.match(text):
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
        text = _stripped(lines[index])
        if rules.CLOSINGS.match(text):
            return index
        if names and _starts_with_name(text, names) and len(text) <= 60:
            return index
        if len(after) >= 2 and len(text) <= 30 and 2 * _contacts(after) >= len(after) >= 2 \
                and _contacts(after) >= 2 and not _NOT_A_NAME.search(text) \
                and not rules.CONTACT.search(text):
            return index
    return None


def _contacts(lines: list[str]) -> int:
    return sum(1 for line in lines if rules.CONTACT.search(line))


def _name_tokens(sender_name: str) -> list[str]:
    name = _NAME_NOISE.sub(" ", sender_name).strip()
    return [token for token in [name, *name.split()] if len(token) >= 2]


def _starts_with_name(text: str, names: list[str]) -> bool:
    lowered = text.lower()
    return any(lowered == n.lower() or lowered.startswith(n.lower() + " ") for n in names)
