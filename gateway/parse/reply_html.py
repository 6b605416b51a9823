"""Where an HTML reply ends and its quoted history begins, by the containers clients wrap it in.

Quote containers, first one in document order wins (everything from it on is history):

* ``blockquote`` — Gmail (``gmail_quote``), Apple Mail/iOS (``type="cite"``), Thunderbird,
  NetEase 163/126 webmail (``#isReplyContent``, after its empty ``#divNeteaseMailCard``),
  Alibaba/DingTalk mail, Coremail, Samsung and Yahoo iOS (``#iosymail``);
* by class: Gmail ``gmail_quote``/``gmail_quote_container``/``gmail_extra``, Yahoo
  ``yahoo_quoted``, Thunderbird ``moz-cite-prefix``, NetEase Mail Master
  ``ntes-mailmaster-quote``, Zoho ``zmail_extra``, Proton ``protonmail_quote``, Tutanota,
  Outlook 2007 ``OutlookMessageHeader``;
* by id: Outlook on the web / new Outlook / Outlook iOS and Android ``#divRplyFwdMsg`` (also
  ``x_``-prefixed after a forward), ``#appendonsend``, ``#mail-editor-reference-message-container``,
  ``hr#stopSpelling``, ``hr[tabindex=-1]``; Outlook for Mac ``#OLK_SRC_BODY_SECTION``;
  139 Mail ``hr#replySplit``/``#reply139content``; ``#isForwardContent``, ``#origbody``,
  ``#oriMsgHtmlSeperator``, Zoho ``#blockquote_zmail``;
* QQ Mail/Tencent Exmail/Foxmail ``<includetail>``; Exchange ``name="messageReplySection"``,
  GMX ``name="quote"``; Outlook desktop (zh and en) the ``border-top:solid … padding`` div that
  holds the ``From:/发件人:`` block.

Clients without a container of their own (Feishu/Lark, WPS, QQ Mail's newer ``<article>`` card,
Mail Master's table) render their header as text, where :mod:`gateway.parse.reply_headers`
finds it by its shape. Signature containers: Gmail ``gmail_signature``, Apple
``#AppleMailSignature``, Outlook mobile ``#ms-outlook-mobile-signature``, QQ ``<sign>``, NetEase
``#spnEditorSign``/``ntes*sign``/``#imail_signature``, and any id or class naming a "signature".
A plain ``<hr>`` is rendered as an underscore line so the text rules can judge what follows.
For inline answers, :func:`html_angle_text` renders blockquotes as ``>`` lines instead.
"""

from __future__ import annotations

import re

from bs4.element import Tag

from gateway.parse.htmltext import QUOTE_CLOSE, QUOTE_MARK, QUOTE_OPEN, SIGNATURE_MARK, html_to_text

_QUOTE_CLASSES = frozenset({
    "gmail_quote", "gmail_quote_container", "gmail_extra", "yahoo_quoted", "moz-cite-prefix",
    "quote", "outlookmessageheader", "gmail_extra_quote", "ntes-mailmaster-quote", "zmail_extra",
    "protonmail_quote", "tutanota_quote", "skiff_quote"})
_QUOTE_IDS = frozenset({
    "divrplyfwdmsg", "appendonsend", "isreplycontent", "isforwardcontent", "olk_src_body_section",
    "stopspelling", "mail-editor-reference-message-container", "reply-content", "qqmailquote",
    "divneteasemailcard", "reply139content", "replysplit", "origbody", "orimsghtmlseperator",
    "blockquote_zmail", "zmail_extra", "iosymail"})
_SIGNATURE_HINT = re.compile(r"signature|spneditorsign|^ntes.{0,20}sign|^sign$", re.I)
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
    if classes & _QUOTE_CLASSES or tag_id.removeprefix("x_") in _QUOTE_IDS:
        return True
    if _attr(tag, "name") in ("messageReplySection", "quote"):
        return True
    if tag.name == "hr" and _attr(tag, "tabindex") == "-1":
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


def html_angle_text(html: str) -> str:
    """The whole body as text with blockquote lines ``>``-quoted, as a plain-text client would
    have written it: unquoted lines between them are inline answers."""
    text = html_to_text(html, marker=_hr_only, quote_marks=True)
    out: list[str] = []
    depth = 0
    for line in text.split("\n"):
        at: int | None = None
        visible: list[str] = []
        for char in line:
            if char == QUOTE_OPEN:
                depth += 1
            elif char == QUOTE_CLOSE:
                depth = max(depth - 1, 0)
            else:
                if at is None and not char.isspace():
                    at = depth
                visible.append(char)
        body = "".join(visible).strip()
        out.append(("> " * at + body) if at and body else body)
    return "\n".join(out)
