"""JSON view of a parsed message for the CLI and logs: JSON-safe, never attachment bytes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from gateway.parse.model import Attachment, ParsedMessage


def _attachment(item: Attachment) -> dict[str, Any]:
    return {"filename": item.filename, "content_type": item.content_type, "size": item.size,
            "sha256": item.sha256, "disposition": item.disposition,
            "content_id": item.content_id}


def to_json(parsed: ParsedMessage) -> dict[str, Any]:
    """A dict of str/int/bool/None/list/dict only; dates as ISO 8601."""
    return {
        "message_id": parsed.message_id,
        "message_id_synthetic": parsed.message_id_synthetic,
        "in_reply_to": list(parsed.in_reply_to),
        "references": list(parsed.references),
        "subject": parsed.subject,
        "from": {"name": parsed.from_name, "address": parsed.from_addr},
        "sender": parsed.sender,
        "reply_to": list(parsed.reply_to),
        "to": [{"name": name, "address": address} for name, address in parsed.to],
        "cc": [{"name": name, "address": address} for name, address in parsed.cc],
        "date": parsed.date.isoformat() if parsed.date else None,
        "thread_index": parsed.thread_index,
        "thread_topic": parsed.thread_topic,
        "text": parsed.text,
        "has_html": parsed.html is not None,
        "own_text": parsed.own_text,
        "quoted_text": parsed.quoted_text,
        "signature": parsed.signature,
        "attachments": [_attachment(item) for item in parsed.attachments],
        "flags": {
            "auto_reply": parsed.auto_reply,
            "auto_reply_reason": parsed.auto_reply_reason,
            "bounce": asdict(parsed.bounce) if parsed.bounce else None,
            "mdn": asdict(parsed.mdn) if parsed.mdn else None,
        },
        "forwarded": [to_json(inner) for inner in parsed.forwarded],
        "defects": list(parsed.defects),
        "authentication_results": list(parsed.authentication_results),
        "size": parsed.size,
    }
