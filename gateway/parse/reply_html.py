"""Where an HTML reply ends and its quoted history begins, by the containers clients wrap it in.

Quote containers, first one in document order wins (everything from it on is history):

* ``blockquote`` — Gmail (``gmail_quote``), Apple Mail (``type="cite"``), Thunderbird, NetEase
  163/126 (``id="isReplyContent"``), Foxmail;
* Gmail ``div.gmail_quote``, Yahoo ``div.yahoo_quoted``, Thunderbird ``div.moz-cite-prefix``;
* Outlook on the web / new Outlook ``#divRplyFwdMsg``, ``#appendonsend``, ``hr#stopSpelling``,
  ``hr[tabindex=-1]``; Outlook desktop (zh and en) the ``border-top:solid … padding`` div that
  holds the ``From:/发件人:`` block; Outlook for Mac ``#OLK_SRC_BODY_SECTION``;
* QQ Mail ``<includetail>``; Exchange/Discourse ``name="messageReplySection"``.

Signature containers: Gmail ``gmail_signature``, Apple ``#AppleMailSignature``, QQ ``<sign>``,
NetEase ``#spnEditorSign``/``ntes*sign``, and any id or class naming a "signature".
A plain ``<hr>`` is rendered as an underscore line so the text rules can judge what follows.
"""

from __future__ import annotations

import re

from bs4.element import Tag

from gateway.parse.htmltext import QUOTE_MARK, SIGNATURE_MARK, html_to_text

_QUOTE_CLASSES = frozenset({"gmail_quote", "yahoo_quoted", "moz-cite-prefix", "quote",
                            "outlookmessageheader", "gmail_extra_quote"})
_QUOTE_IDS = frozenset({"divrplyfwdmsg", "x_divrplyfwdmsg", "appendonsend", "isreplycontent",
                        "olk_src_body_section", "stopspelling", "mail-editor-reference-message-"
                        "container", "reply-content", "qqmailquote"})
_SIGNATURE_HINT = re.compile(r"signature|spneditorsign|ntes.*sign|^sign$", re.I)
_OUTLOOK_BORDER = re.compile(r"border-top\s*:\s*solid[^;]*;\s*padding", re.I)
_HR_LINE = "_" * 32


def _attr(tag: Tag, name: str) -> str:
    value = tag.get(name)
    if isinstance(value, list):
        return " ".join(value)
    return value or ""


def is_quote_container(tag: Tag) -> bool:
    """Does ``tag`` start the quoted history in a known client's HTML?"""
    if tag.name in ("blockquote", "includetail"):
        return True
    classes = {c.lower() for c in _attr(tag, "class").split()}
    tag_id = _attr(tag, "id").lower()
    if classes & _QUOTE_CLASSES or tag_id in _QUOTE_IDS or tag_id.startswith("x_divrplyfwdmsg"):
        return True
    if _attr(tag, "name") == "messageReplySection":
        return True
    if tag.name == "hr" and (tag_id == "stopspelling" or _attr(tag, "tabindex") == "-1"):
        return True
    return tag.name == "div" and _OUTLOOK_BORDER.search(_attr(tag, "style")) is not None


def is_signature_container(tag: Tag) -> bool:
    if tag.name == "sign":
        return True
    names = [_attr(tag, "id"), *_attr(tag, "class").split()]
    return any(_SIGNATURE_HINT.search(name) for name in names if name)


def _marker(tag: Tag) -> str | None:
    if is_quote_container(tag):
        return QUOTE_MARK
    if is_signature_container(tag):
        return SIGNATURE_MARK
    if tag.name == "hr":
        return _HR_LINE + "\n"
    return None


def html_reply_text(html: str) -> tuple[str, str, str]:
    """``(text before the quote, signature container text, quoted text)`` of an HTML body."""
    text = html_to_text(html, marker=_marker)
    head, _, quoted = text.partition(QUOTE_MARK)
    quoted = quoted.replace(QUOTE_MARK, "").replace(SIGNATURE_MARK, "")
    own, _, signature = head.partition(SIGNATURE_MARK)
    return own.strip(), signature.replace(SIGNATURE_MARK, "").strip(), quoted.strip()


def readable(html: str) -> str:
    """The whole HTML body as text, with no marks."""
    return html_to_text(html, marker=_hr_only)


def _hr_only(tag: Tag) -> str | None:
    return _HR_LINE + "\n" if tag.name == "hr" else None
