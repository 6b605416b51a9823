"""A message's identity, read cheaply from the raw bytes before any full parse.

Identity is (Message-ID, content hash). The content hash covers the body only, so one mail that
reaches us twice — CC'd over SMTP and found again over IMAP, with different trace headers — is
recognised as one. A message without a Message-ID gets a stable synthetic one from its body and
its header block without the trace fields that relays add (Received, Return-Path, …), which does
not change in transit. Two messages that agree in all of that are the same message.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_MSGID = re.compile(rb"<([^<>\s]{1,900})>")
SYNTHETIC_DOMAIN = "synthetic.commgate.invalid"
# Fields added or rewritten on the way (RFC 5321 §4.4, RFC 8601, RFC 8617, common MTAs).
_TRACE = re.compile(rb"^(received|return-path|delivered-to|x-original-to|envelope-to|"
                    rb"authentication-results|arc-[a-z-]+|x-received|x-spam[a-z-]*|"
                    rb"x-virus[a-z-]*)\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class Identity:
    message_id: str
    synthetic: bool
    content_hash: str


def split_header_block(raw: bytes) -> tuple[bytes, bytes]:
    match = _HEADER_END.search(raw)
    if match is None:
        return raw, b""
    return raw[: match.start()], raw[match.end():]


def header_values(block: bytes, name: bytes) -> list[bytes]:
    """Unfolded raw values of every header called ``name`` (case-insensitive)."""
    values: list[bytes] = []
    current: list[bytes] | None = None
    lowered = name.lower() + b":"
    for line in block.splitlines():
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line.strip())
            continue
        if current is not None:
            values.append(b" ".join(current))
            current = None
        if line[: len(lowered)].lower() == lowered:
            current = [line[len(lowered):].strip()]
    if current is not None:
        values.append(b" ".join(current))
    return values


def normalize_message_id(value: str) -> str:
    """``<Local@Domain>`` → ``Local@domain`` (the domain part is case-insensitive)."""
    value = value.strip().strip("<>").strip()
    local, sep, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}" if sep else value


def identify(raw: bytes) -> Identity:
    block, body = split_header_block(raw)
    content_hash = hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest()
    for value in header_values(block, b"message-id"):
        match = _MSGID.search(value)
        if match:
            text = match.group(1).decode("utf-8", "replace")
            return Identity(normalize_message_id(text), False, content_hash)
    origin = hashlib.sha256()
    keep = True
    for line in block.splitlines():
        if line[:1] not in (b" ", b"\t"):
            keep = _TRACE.match(line) is None
        if keep:
            origin.update(line.rstrip(b"\r") + b"\n")
    origin.update(content_hash.encode())
    return Identity(f"{origin.hexdigest()[:32]}@{SYNTHETIC_DOMAIN}", True, content_hash)
