"""Header decoding: RFC 2047 encoded-words, raw 8-bit values, Message-ID lists and dates.

We decode header values ourselves from the raw strings the stdlib keeps (``raw_items``) because
``policy.default`` decodes each RFC 2047 encoded-word on its own: when a sender (Outlook, Foxmail,
many PHP mailers) splits one multi-byte character across two words, every word is invalid alone
and the subject comes out with replacement characters. RFC 2047 §5 forbids that split, but it is
common; joining the *bytes* of adjacent words in the same charset before decoding repairs it.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from gateway.parse.charsets import decode_8bit_header, decode_bytes

# charset, optional RFC 2231 language (*lang), encoding, text — RFC 2047 §2 and RFC 2231 §5.
_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([QqBb])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]*")
_MSGID = re.compile(r"<([^<>\s]{1,250})>")
_MSGID_MAX = 250


def _word_bytes(encoding: str, text: str) -> bytes:
    if encoding in "Bb":
        padded = text + "=" * (-len(text) % 4)
        try:
            return base64.b64decode(padded)
        except (binascii.Error, ValueError):
            return base64.b64decode(padded + "==", validate=False) if text else b""
    # RFC 2047 §4.2: "_" is a space in Q encoding.
    return quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=False)


def decode_header_value(value: str, *, defects: list[str] | None = None) -> str:
    """Decode a raw header value into Unicode; never raises."""
    if value.isascii() and "=?" not in value and "\n" not in value and "\r" not in value:
        return value.replace("\x00", "").strip()
    value = decode_8bit_header(value)
    if "=?" not in value:
        return _unfold(value)
    out: list[str] = []
    pending: list[bytes] = []
    pending_charset = ""
    pos = 0
    for match in _WORD.finditer(value):
        gap = value[pos:match.start()]
        adjacent = bool(pending) and _BETWEEN_WORDS.fullmatch(gap) is not None
        charset = match.group(1).lower()
        if pending and not (adjacent and charset == pending_charset):
            out.append(decode_bytes(b"".join(pending), pending_charset, defects=defects))
            pending = []
        if not pending:
            out.append(gap)  # RFC 2047 §6.2: whitespace between adjacent words is dropped
        pending.append(_safe_word_bytes(match.group(2), match.group(3)))
        pending_charset = charset
        pos = match.end()
    if pending:
        out.append(decode_bytes(b"".join(pending), pending_charset, defects=defects))
    out.append(value[pos:])
    return _unfold("".join(out))


def _safe_word_bytes(encoding: str, text: str) -> bytes:
    try:
        return _word_bytes(encoding, text)
    except (binascii.Error, ValueError):
        return text.encode("ascii", "replace")


def _unfold(value: str) -> str:
    """RFC 5322 §2.2.3: unfolding removes CRLF before WSP; we also tidy stray controls."""
    value = re.sub(r"\r?\n(?=[ \t])", "", value)
    return value.replace("\r", " ").replace("\n", " ").replace("\x00", "").strip()


def message_ids(value: str | None, *, limit: int = 1000) -> list[str]:
    """``<id>`` tokens of a Message-ID/In-Reply-To/References value, junk dropped (RFC 5322 §3.6.4).

    The domain part is lower-cased (it is case-insensitive); the local part is kept verbatim.
    """
    if not value:
        return []
    ids: list[str] = []
    for match in _MSGID.finditer(value):
        ident = normalize_message_id(match.group(1))
        if ident and ident not in ids:
            ids.append(ident)
            if len(ids) >= limit:
                break
    return ids


def normalize_message_id(value: str) -> str | None:
    """``<Local@Domain>`` → ``Local@domain``; None when it is not a plausible id."""
    value = value.strip().strip("<>").strip()
    if "@" not in value or len(value) > _MSGID_MAX or any(c.isspace() for c in value):
        return None
    local, _, domain = value.rpartition("@")
    if not local or not domain:
        return None
    return f"{local}@{domain.lower()}"


def cap_references(ids: list[str], limit: int) -> list[str]:
    """Keep the thread root and the most recent ancestors, as JWZ threading suggests."""
    if len(ids) <= limit:
        return ids
    return ids[:1] + ids[len(ids) - (limit - 1):] if limit > 1 else ids[:1]


def parse_date(value: str | None) -> datetime | None:
    """RFC 5322 date → aware datetime (zone-less or ``-0000`` dates are taken as UTC)."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
