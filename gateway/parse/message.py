"""The parse stage's entry point: raw bytes in, :class:`ParsedMessage` out, or ``Quarantine``.

Order: guards on the raw bytes, the stdlib parser (``policy.default``), our own header decoding,
the MIME walk, reply splitting, then automated-mail, bounce and MDN detection. Any exception that
escapes these steps is a parser bug meeting hostile input: it becomes a ``Quarantine`` naming the
exception, so the pipeline keeps the raw bytes and nothing else is ever raised.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from email import policy
from email.message import Message

from gateway.errors import Quarantine
from gateway.parse import envelope
from gateway.parse.body import Collected, Walker
from gateway.parse.guards import Deadline, prescan, quarantine
from gateway.parse.model import ParsedMessage, ParseLimits, ReplyParts
from gateway.parse.reply import split_reply
from gateway.parse.reply_html import readable
from gateway.parse.reports import detect_reports
from gateway.parse.stdlib import parse_bytes

log = logging.getLogger(__name__)


def parse_message(raw: bytes, *, limits: ParseLimits | None = None) -> ParsedMessage:
    """Parse one message; raises only :class:`gateway.errors.Quarantine`."""
    limits = limits or ParseLimits()
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise quarantine(f"expected bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    prescan(raw, limits)
    deadline = Deadline(limits.time_budget_s)
    try:
        message = parse_bytes(raw)
        return build(message, raw, limits, deadline, depth=0)
    except Quarantine:
        raise
    except RecursionError:
        raise quarantine("MIME structure too deep for the parser") from None
    except Exception as error:  # noqa: BLE001 - the stage's promise: Quarantine, never a crash
        log.warning("parse failed: %s: %s", type(error).__name__, error)
        raise quarantine(f"unparseable message ({type(error).__name__}: {error})"[:300]) from None


def parse_bounded(raw: bytes, text_max: int) -> tuple[ParsedMessage, str]:
    """Parse ``raw`` (raises Quarantine for what cannot be parsed safely); return it with the
    texts the later stages read cut to ``text_max`` characters (``text_stage_max``), and the
    whole own text, which is stored and searchable."""
    parsed = parse_message(raw)
    if max(len(parsed.own_text), len(parsed.text), len(parsed.quoted_text)) <= text_max:
        return parsed, parsed.own_text
    bounded = dataclasses.replace(parsed, own_text=parsed.own_text[:text_max],
                                  text=parsed.text[:text_max],
                                  quoted_text=parsed.quoted_text[:text_max])
    return bounded, parsed.own_text


def synthetic_id(raw: bytes) -> str:
    """A stable id for mail without Message-ID: the same bytes always get the same id."""
    return f"{hashlib.sha256(raw).hexdigest()[:32]}@synthetic.commgate.invalid"


def build(message: Message, raw: bytes, limits: ParseLimits, deadline: Deadline, *,
          depth: int) -> ParsedMessage:
    """Build the parsed view of one (possibly forwarded) message tree."""
    head = envelope.read(message, limits)
    found = Collected()
    Walker(limits, deadline, found).walk(message)
    deadline.check("body assembled")
    html = "\n".join(found.html) if found.html else None
    plain = "\n\n".join(text.strip("\n") for text in found.plain)
    html_view = html[: limits.max_html_bytes] if html else None
    text = plain if plain.strip() else (readable(html_view) if html_view else "")
    parts = _split(plain, html_view, head.from_name, limits)
    deadline.check("reply split")
    forwarded = _forwarded(found, limits, deadline, depth)
    reports = detect_reports(head, found, text)
    message_id = head.message_id or synthetic_id(raw)
    return ParsedMessage(
        message_id=message_id, message_id_synthetic=head.message_id is None,
        in_reply_to=head.in_reply_to, references=head.references, subject=head.subject,
        from_addr=head.from_addr, from_name=head.from_name, sender=head.sender,
        reply_to=head.reply_to, to=head.to, cc=head.cc, date=head.date, headers=head.headers,
        text=text, html=html, own_text=parts.own_text, quoted_text=parts.quoted_text,
        signature=parts.signature, attachments=found.attachments,
        auto_reply=reports.auto_reason is not None, auto_reply_reason=reports.auto_reason,
        bounce=reports.bounce, mdn=reports.mdn, thread_index=head.thread_index,
        thread_topic=head.thread_topic, forwarded=forwarded,
        defects=head.defects + found.defects + _stdlib_defects(message),
        authentication_results=head.authentication_results, size=len(raw))


def _split(plain: str, html: str | None, sender_name: str, limits: ParseLimits) -> ReplyParts:
    """The reply split over a bounded prefix: its regular expressions cost time per character,
    and a 20 MiB text would hold the worker for a minute."""
    if len(plain) <= limits.max_split_chars:
        return split_reply(plain, html, sender_name=sender_name)
    head, rest = plain[:limits.max_split_chars], plain[limits.max_split_chars:]
    parts = split_reply(head, html, sender_name=sender_name)
    if parts.quoted_text or parts.signature:  # the split was found in the prefix
        return parts
    return ReplyParts(own_text=parts.own_text + rest, quoted_text="", signature="")


def _forwarded(found: Collected, limits: ParseLimits, deadline: Deadline,
               depth: int) -> list[ParsedMessage]:
    out: list[ParsedMessage] = []
    for inner in found.forwarded:
        if depth + 1 > limits.max_depth:
            break
        inner_raw = b"" if envelope.has_message_id(inner) else _serialise(inner)
        out.append(build(inner, inner_raw, limits, deadline, depth=depth + 1))
    return out


def _serialise(message: Message) -> bytes:
    """Bytes of a forwarded message, only needed to derive its synthetic id."""
    try:
        return message.as_bytes(policy=policy.compat32)
    except Exception:  # noqa: BLE001 - re-serialising broken MIME may fail; any stable bytes do
        return repr(message.raw_items()).encode("utf-8", "surrogateescape")


def _stdlib_defects(message: Message) -> list[str]:
    defects = getattr(message, "defects", [])
    return [type(defect).__name__ for defect in defects][:20]
