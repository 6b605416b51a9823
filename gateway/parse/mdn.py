"""Report parts: RFC 3464 delivery-status fields and RFC 8098 read receipts (MDNs).

The stdlib parses ``message/delivery-status`` into one pseudo-message per field block (RFC 3464
§2.1: per-message fields, then one block per recipient); ``message/disposition-notification`` is
one block. We read the blocks as plain field lists so broken reports degrade, never raise.
"""

from __future__ import annotations

import re
from email.message import Message

from gateway.parse.headers import message_ids
from gateway.parse.mimeparams import content_type
from gateway.parse.model import Mdn

_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.M)
_MSGID_LINE = re.compile(r"^Message-ID[ \t]*:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.I | re.M)


def field_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a report part, lower-cased names, first value kept."""
    payload = part.get_payload()
    texts: list[str] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                texts.append("\n".join(f"{k}: {v}" for k, v in block.raw_items()))
    else:
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
        texts.extend(re.split(r"\r?\n[ \t]*\r?\n", text))
    blocks = []
    for text in texts:
        fields: dict[str, str] = {}
        for match in _FIELD.finditer(text):
            fields.setdefault(match.group(1).lower(), " ".join(match.group(2).split()))
        if fields:
            blocks.append(fields)
    return blocks


def address_of(value: str | None) -> str | None:
    """``rfc822; User@Example.com`` → ``user@example.com`` (RFC 3464 §2.3.2 address-type)."""
    if not value:
        return None
    address = value.split(";", 1)[-1].strip().strip("<>").strip()
    return address.lower() if "@" in address else None


def original_message_id(parts: list[Message]) -> str | None:
    """Message-ID of the returned original found in a text/rfc822-headers part (RFC 6522)."""
    for part in parts:
        if content_type(part) == "text/rfc822-headers":
            raw = part.get_payload(decode=True)
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
            match = _MSGID_LINE.search(text)
            if match and message_ids(match.group(1)):
                return message_ids(match.group(1))[0]
    return None


def parse_mdn(reports: list[Message]) -> Mdn | None:
    """An RFC 8098 disposition notification, if one of the report parts is one."""
    for part in reports:
        if "disposition-notification" not in content_type(part):
            continue
        fields = {k: v for block in field_blocks(part) for k, v in block.items()}
        ids = message_ids(fields.get("original-message-id"))
        return Mdn(original_message_id=ids[0] if ids else None,
                   disposition=fields.get("disposition"),
                   final_recipient=address_of(fields.get("final-recipient")))
    return None
