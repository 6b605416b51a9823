"""The parse stage: raw RFC 5322 bytes → :class:`ParsedMessage` (pure logic, no I/O).

::

    parse_message(raw, limits=None) ─ guards.prescan ─ stdlib email (policy.default)
        ├─ envelope   headers: RFC 2047/2231, raw 8-bit, ids, addresses, date, Outlook fields
        ├─ body       MIME walk: text/html choice, attachments, message/rfc822, report parts
        ├─ reply      own text / quoted history / signature (text and HTML rules)
        └─ reports    auto-reply (RFC 3834), bounce (RFC 3464 + prose), MDN (RFC 8098)

Anything unparseable or over :class:`ParseLimits` raises ``Quarantine(reason, stage="parse")``.
"""

from __future__ import annotations

from gateway.parse.message import parse_message, synthetic_id
from gateway.parse.model import Attachment, Bounce, Mdn, ParsedMessage, ParseLimits, ReplyParts
from gateway.parse.reply import split_reply
from gateway.parse.serialize import to_json

__all__ = ["Attachment", "Bounce", "Mdn", "ParseLimits", "ParsedMessage", "ReplyParts",
           "parse_message", "split_reply", "synthetic_id", "to_json"]
