"""Walking the MIME tree: readable body, attachments, forwarded mail and report parts.

``multipart/alternative`` prefers text/plain unless it is empty or a stub ("please view in HTML");
the HTML alternative is kept either way for HTML reply splitting and display. Inline text parts of
``multipart/mixed`` (Apple Mail splits the body around inline images) are concatenated. The walk
is recursive but bounded: :mod:`gateway.parse.guards` has already refused deep nesting, and every
part is counted and the deadline checked before it is opened.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from email.message import Message

from gateway.parse.charsets import decode_bytes
from gateway.parse.guards import Deadline, quarantine
from gateway.parse.mimeparams import content_type, filename_from, parse_params, raw_header
from gateway.parse.model import Attachment, ParseLimits

_REPORT_TYPES = frozenset({"message/delivery-status", "message/disposition-notification",
                           "text/rfc822-headers", "message/global-delivery-status",
                           "message/global-disposition-notification", "message/feedback-report"})
_FORWARD_TYPES = frozenset({"message/rfc822", "message/global"})
_STUB = re.compile(
    r"(view|read|open|display|see)\b.{0,40}\bhtml|html (?:version|format|e-?mail|message)|"
    r"does not support html|not support html|超文本|html\s*格式|支持\s*html|查看\s*html|"
    r"this is a multi-?part message|^\W*$", re.I)


@dataclass
class Collected:
    """What one walk found; plain and HTML bodies are kept apart for reply splitting."""

    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    forwarded: list[Message] = field(default_factory=list)
    reports: list[Message] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    parts: int = 0
    decoded_bytes: int = 0


class Walker:
    """One walk over one message tree, sharing limits and the deadline with the whole parse."""

    def __init__(self, limits: ParseLimits, deadline: Deadline, found: Collected) -> None:
        self.limits = limits
        self.deadline = deadline
        self.found = found

    def walk(self, part: Message, depth: int = 0) -> None:
        self.deadline.check("MIME part")
        self.found.parts += 1
        if self.found.parts > self.limits.max_parts or depth > self.limits.max_depth:
            raise quarantine(f"more than {self.limits.max_parts} parts or "
                             f"{self.limits.max_depth} levels while walking")
        ctype = content_type(part)
        payload = part.get_payload()
        if ctype.startswith("multipart/") and isinstance(payload, list):
            self._multipart(ctype, [p for p in payload if isinstance(p, Message)], depth)
        elif ctype in _FORWARD_TYPES and isinstance(payload, list) and payload:
            self.found.forwarded.extend(p for p in payload[:1] if isinstance(p, Message))
        elif ctype in _REPORT_TYPES:
            self.found.reports.append(part)
        elif ctype in ("text/plain", "text/html") and not _is_attachment(part):
            text = self.decode_text(part)
            (self.found.plain if ctype == "text/plain" else self.found.html).append(text)
        else:
            self._attachment(part, ctype)

    def _multipart(self, ctype: str, children: list[Message], depth: int) -> None:
        if ctype != "multipart/alternative":
            for child in children:
                if isinstance(child, Message):
                    self.walk(child, depth + 1)
            return
        options = []
        for child in children:
            if isinstance(child, Message):
                sub = Collected(parts=self.found.parts, decoded_bytes=self.found.decoded_bytes)
                Walker(self.limits, self.deadline, sub).walk(child, depth + 1)
                self.found.parts, self.found.decoded_bytes = sub.parts, sub.decoded_bytes
                options.append(sub)
        self._choose(options)

    def _choose(self, options: list[Collected]) -> None:
        """RFC 2046 §5.1.4 orders alternatives by fidelity; we want the best *text* instead."""
        plain = next((o for o in reversed(options) if o.plain and not is_stub(o.plain)), None)
        html = next((o for o in reversed(options) if o.html), None)
        if plain is None and html is None:
            plain = next((o for o in reversed(options) if o.plain), None)
        self.found.plain += plain.plain if plain else []
        self.found.html += html.html if html else []
        for option in options:
            self.found.attachments += option.attachments
            self.found.forwarded += option.forwarded
            self.found.reports += option.reports
            self.found.defects += option.defects

    def payload_bytes(self, part: Message) -> bytes:
        try:
            data = part.get_payload(decode=True)
        except Exception as error:  # noqa: BLE001 - a broken encoding is a defect, not a crash
            self.found.defects.append(f"undecodable part payload: {type(error).__name__}")
            data = None
        if not isinstance(data, bytes):
            raw = part.get_payload()
            data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
        self.found.decoded_bytes += len(data)
        if self.found.decoded_bytes > self.limits.max_decoded_bytes:
            raise quarantine(f"decoded content over {self.limits.max_decoded_bytes} bytes")
        return data

    def decode_text(self, part: Message) -> str:
        charset = _param(part, "charset")
        text = decode_bytes(self.payload_bytes(part), charset, defects=self.found.defects)
        return text.replace("\r\n", "\n").replace("\r", "\n")

    def _attachment(self, part: Message, ctype: str) -> None:
        data = self.payload_bytes(part)
        name = filename_from(raw_header(part, "content-disposition"),
                             raw_header(part, "content-type"))
        if name is None:
            extension = mimetypes.guess_extension(ctype) or ".bin"
            name = f"attachment-{len(self.found.attachments) + 1}{extension}"
        disposition = "inline" if _disposition(part) == "inline" else "attachment"
        content_id = raw_header(part, "content-id")
        self.found.attachments.append(Attachment(
            filename=name, content_type=ctype, size=len(data),
            sha256=hashlib.sha256(data).hexdigest(), content=data, disposition=disposition,
            content_id=content_id.strip().strip("<>") if content_id else None))


def is_stub(texts: list[str]) -> bool:
    """A plain alternative that only says "view this in HTML" (or nothing at all)."""
    text = "\n".join(texts).strip()
    return len(text) < 3 or (len(text) < 300 and _STUB.search(text) is not None)


def _param(part: Message, name: str) -> str | None:
    raw = raw_header(part, "content-type")
    return parse_params(raw).get(name) if raw else None


def _disposition(part: Message) -> str | None:
    raw = raw_header(part, "content-disposition")
    return raw.split(";", 1)[0].strip().lower() if raw else None


def _is_attachment(part: Message) -> bool:
    """A text part is body unless marked as an attachment or carrying a file name."""
    if _disposition(part) == "attachment":
        return True
    return filename_from(raw_header(part, "content-disposition"), None) is not None
