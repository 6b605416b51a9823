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

from gateway.parse import reply_rules as rules
from gateway.parse.model import ReplyParts
from gateway.parse.reply_html import html_angle_text, html_reply_text
from gateway.parse.reply_quote import View, find_quote_start, first_angle, interleaved
from gateway.parse.reply_signature import cut_signature, stripped

_MAX_LINES = 20_000        # beyond this the tail is treated as history without inspection
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


def _split_text(text: str, sender_name: str) -> ReplyParts:
    lines = _lines(text)
    head, rest = lines[:_MAX_LINES], lines[_MAX_LINES:]
    view = View(head)
    cut = find_quote_start(view)
    lead = head[:cut.own_from]
    inline: list[str]
    if cut.start is None:
        top, inline, quoted = head[cut.own_from:], [], rest
    elif cut.kind == "angle":
        top = head[cut.own_from:cut.start]
        inline, quoted = interleaved(view, cut.start)
        quoted += rest
    else:
        top, inline, quoted = head[cut.own_from:cut.start], [], head[cut.start:] + rest
        if is_pointer_only(_clean(top)):
            # "答复见下文" above an Outlook header: the answers are among the ">" lines below.
            angle = first_angle(view, cut.start)
            if angle is not None:
                inline, _ = interleaved(view, angle)
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
