"""Plain data produced by the parse stage: what every later stage reads instead of raw MIME.

Everything here is a frozen dataclass with no behaviour, so threading, classification and the
receipts stage can be tested with hand-built values. ``ParseLimits`` carries the guard limits;
its defaults are sized so that hostile input is quarantined in well under two seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Limits enforced by :mod:`gateway.parse.guards` before and while parsing."""

    max_message_bytes: int = 50 * 1024 * 1024
    max_depth: int = 20            # nested multipart / message/rfc822 levels
    max_parts: int = 500           # MIME parts in the whole message, forwarded ones included
    max_headers: int = 1000        # header fields in any one header block
    max_header_bytes: int = 256 * 1024   # one header block
    max_addresses_per_header: int = 1000
    max_references: int = 50       # References ids kept (first one + most recent ones)
    max_decoded_bytes: int = 100 * 1024 * 1024
    max_html_bytes: int = 2 * 1024 * 1024   # larger HTML is converted from a truncated copy
    # The reply split (quotes, signatures) reads this much of the plain text; the rest of a
    # longer text is kept as the sender's own text (a quote is never 1 MiB down a message).
    max_split_chars: int = 1024 * 1024
    time_budget_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Attachment:
    """One attached file (or inline image); ``content`` holds the decoded bytes."""

    filename: str
    content_type: str
    size: int
    sha256: str
    content: bytes = field(repr=False)
    disposition: str          # "attachment" or "inline"
    content_id: str | None = None


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery failure report (RFC 3464 DSN or a well-known non-standard bounce)."""

    failed_recipients: list[str]
    permanent: bool
    original_message_id: str | None
    status: str | None = None          # first RFC 3463 status code seen, e.g. "5.1.1"
    standard: bool = True              # False when recognised by heuristics, not a DSN


@dataclass(frozen=True, slots=True)
class Mdn:
    """A message disposition notification (RFC 8098 read receipt)."""

    original_message_id: str | None
    disposition: str | None            # e.g. "manual-action/MDN-sent-manually; displayed"
    final_recipient: str | None = None


@dataclass(frozen=True, slots=True)
class ReplyParts:
    """The three parts of a reply body as written by its sender."""

    own_text: str
    quoted_text: str
    signature: str


@dataclass(frozen=True, slots=True)
class Addressing:
    """Who wrote a message to whom, and what it answers: the header values that the decoded
    header section (:class:`gateway.parse.envelope.Head`) and the parsed message share."""

    in_reply_to: list[str]
    references: list[str]
    subject: str
    from_addr: str | None
    from_name: str
    sender: str | None
    reply_to: list[str]
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    date: datetime | None
    headers: list[tuple[str, str]]
    thread_index: str | None
    thread_topic: str | None
    authentication_results: list[str]

    def header(self, name: str) -> str | None:
        """The first decoded value of header ``name`` (case-insensitive), if any."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class ParsedMessage(Addressing):
    """One message as the rest of the pipeline sees it."""

    message_id: str
    message_id_synthetic: bool
    text: str
    html: str | None
    own_text: str
    quoted_text: str
    signature: str
    attachments: list[Attachment]
    auto_reply: bool
    auto_reply_reason: str | None
    bounce: Bounce | None
    mdn: Mdn | None
    forwarded: list[ParsedMessage]
    defects: list[str]
    size: int = 0
