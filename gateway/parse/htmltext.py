"""HTML → readable plain text with beautifulsoup4, for HTML-only mail and HTML reply splitting.

Block elements become line breaks, list items get "- " or "1. ", table rows become lines with
cells joined by " | ", ``script``/``style``/``head`` vanish and entities are decoded by the parser.
When asked, the first quote container (see :mod:`gateway.parse.reply_html`) is marked with
:data:`QUOTE_MARK` and signature containers with :data:`SIGNATURE_MARK`, so one walk yields both
the readable text and where the reply splits. The walk is iterative: deeply nested HTML must not
hit Python's recursion limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from bs4 import BeautifulSoup
from bs4.element import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

QUOTE_MARK = "\x1e"
SIGNATURE_MARK = "\x1f"
QUOTE_OPEN, QUOTE_CLOSE = "\x1c", "\x1d"   # around blockquotes, when asked (inline answers)
_DROP = frozenset({"script", "style", "head", "title", "noscript", "template", "object", "svg",
                   "iframe", "meta", "link", "xml"})
_BLOCK = frozenset({"p", "div", "section", "article", "header", "footer", "blockquote", "ul", "ol",
                    "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "address", "dl",
                    "dt", "dd", "form", "fieldset", "center", "li", "hr", "tbody", "thead"})
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre",
                        "ul", "ol"})
_SPACES = re.compile(r"[ \t\r\n\f\v\u200b\u00a0\u3000]+")
_SKIP_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)

Marker = Callable[[Tag], str | None]


def soup_of(html: str) -> BeautifulSoup:
    """Parse with the stdlib-backed parser: no C extension needed, tolerant of broken markup."""
    return BeautifulSoup(html, "html.parser")


def html_to_text(html: str, *, marker: Marker | None = None, quote_marks: bool = False) -> str:
    """Readable text of ``html``; ``marker(tag)`` may return a mark to emit before a tag, and
    ``quote_marks`` wraps every blockquote in :data:`QUOTE_OPEN`/:data:`QUOTE_CLOSE`.

    HTML nested deeper than :data:`MAX_DEPTH` is flattened first (:func:`flatten`): the tree
    builder takes seconds on 20,000 nested elements (15 s on 100,000), and no mail a person
    writes nests that deep.
    """
    if too_deep(html):
        html = flatten(html)
    return _render(soup_of(html), marker, quote_marks)


MAX_DEPTH = 500
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]{0,40})(?:\s[^>]*)?>")
# Elements that never hold others, or whose end tag is usually left out: not nesting.
_NOT_NESTING = frozenset({
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
    "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "tbody",
    "thead", "tfoot", "colgroup", "rt", "rp", "optgroup"})


def too_deep(html: str, limit: int = MAX_DEPTH) -> bool:
    """True when elements in ``html`` nest deeper than ``limit`` (a linear scan that stops as
    soon as it knows, so hostile input is answered in milliseconds)."""
    if html.count("<") <= limit:
        return False
    depth = 0
    for match in _TAG.finditer(html):
        name = match.group(2).lower()
        if name in _NOT_NESTING or match.group(0).endswith("/>"):
            continue
        if match.group(1):
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth > limit:
                return True
    return False


def flatten(html: str) -> str:
    """``html`` with its tags removed: block tags become line breaks, text and entities stay."""
    return _TAG.sub(lambda m: "\n" if m.group(2).lower() in _BLOCK else "", html)


def _render(root: Tag, marker: Marker | None, quote_marks: bool = False) -> str:
    out: list[str] = []
    for event, node in _events(root):
        if isinstance(node, NavigableString):
            if not isinstance(node, _SKIP_STRINGS):
                out.append(_text(node))
            continue
        assert isinstance(node, Tag)
        if event == "enter":
            _enter(node, out, marker)
            if quote_marks and node.name == "blockquote":
                out.append(QUOTE_OPEN)
        else:
            if quote_marks and node.name == "blockquote":
                _break(out)
                out.append(QUOTE_CLOSE)
            _leave(node, out)
    return _tidy("".join(out))


def _events(root: Tag) -> Iterator[tuple[str, NavigableString | Tag]]:
    """Depth-first enter/leave events without recursion."""
    stack: list[tuple[str, NavigableString | Tag]] = [("enter", root)]
    while stack:
        event, node = stack.pop()
        yield event, node
        if event == "enter" and isinstance(node, Tag):
            if node.name in _DROP:
                continue
            stack.append(("leave", node))
            stack.extend(("enter", child) for child in reversed(node.contents)
                         if isinstance(child, (Tag, NavigableString)))


def _text(node: NavigableString) -> str:
    if any(parent.name == "pre" for parent in node.parents if isinstance(parent, Tag)):
        return str(node).replace("\u00a0", " ")
    return _SPACES.sub(" ", str(node))


def _break(out: list[str], blank: bool = False) -> None:
    """End the current line (and leave one blank line when ``blank``), never more than that."""
    tail = "".join(out[-3:]).rstrip(" ")
    if not tail or tail.endswith("\n\n"):
        return
    if tail.endswith("\n"):
        out.append("\n" if blank else "")
    else:
        out.append("\n\n" if blank else "\n")


def _enter(tag: Tag, out: list[str], marker: Marker | None) -> None:
    mark = marker(tag) if marker else None
    if tag.name in _BLOCK or mark:
        _break(out, blank=_is_paragraph(tag))
    if mark:
        out.append(mark)
    if tag.name == "br":
        out.append("\n")
    elif tag.name == "li":
        out.append(_bullet(tag))
    elif tag.name in ("td", "th") and tag.find_previous_sibling(("td", "th")) is not None:
        out.append(" | ")
    elif tag.name == "img" and tag.get("alt"):
        out.append(f"[{tag.get('alt')}]")


def _leave(tag: Tag, out: list[str]) -> None:
    if tag.name == "a" and str(tag.get("href", "")).startswith("http"):
        href = str(tag.get("href"))
        if href not in tag.get_text():
            out.append(f" <{href}>")
    if tag.name in _BLOCK:
        _break(out, blank=_is_paragraph(tag))


def _is_paragraph(tag: Tag) -> bool:
    """Outlook/Word write every line as ``<p class="MsoNormal">`` with no margin: a line, not a
    paragraph."""
    if tag.name != "p":
        return tag.name in _PARAGRAPH
    classes = tag.get("class")
    names = classes if isinstance(classes, list) else str(classes or "").split()
    return not any(str(name).lower() == "msonormal" for name in names)


def _bullet(tag: Tag) -> str:
    parent = tag.find_parent(("ol", "ul"))
    if parent is not None and parent.name == "ol":
        number = len(tag.find_previous_siblings("li")) + 1
        return f"{number}. "
    return "- "


def _tidy(text: str) -> str:
    lines = [line.strip(" ") for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n ")
