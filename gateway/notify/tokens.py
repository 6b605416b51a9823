"""Signed reply addresses: ``proj-<code>+r-<token>@<domain>``, one per receipt (DESIGN §4.2).

A notice asking for confirmation carries a Reply-To address that names its receipt, so a reply
counts even when the client's mail program drops In-Reply-To. The token is::

    r-<receipt id, base 36>-<expiry, minutes since 2024-01-01, base 36>-<MAC, 10 × base 32>

The MAC is HMAC-SHA256 over (project code, receipt id, expiry) keyed with a key derived from the
gateway secret, truncated to 50 bits: enough against guessing over SMTP, short enough to keep
the local part within RFC 5321 §4.5.3.1.1's 64 octets for project codes up to 27 characters.
Everything is lower-case ASCII, because mail systems may change the case of a local part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.config.settings import Settings

EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
MAC_CHARS = 10
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_LOCAL = re.compile(r"^proj-(?P<code>[a-z0-9][a-z0-9_-]{0,31})\+r-(?P<rid>[0-9a-z]{1,13})"
                    r"-(?P<exp>[0-9a-z]{1,8})-(?P<mac>[a-z2-7]{" + str(MAC_CHARS) + r"})$")


@dataclass(frozen=True)
class ReplyToken:
    """What a valid reply address says: which project, which receipt, valid until when."""

    project_code: str
    receipt_id: int
    expires: datetime


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = _ALPHABET[rest] + digits
        if not number:
            return digits


def _mac(secret: bytes, code: str, receipt_id: int, expiry: int) -> str:
    key = hmac.new(secret, b"commgate reply-address v1", hashlib.sha256).digest()
    digest = hmac.new(key, f"{code}\0{receipt_id}\0{expiry}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:MAC_CHARS]


def make_reply_address(settings: Settings, project_code: str, receipt_id: int, *,
                       expires: datetime) -> str:
    """The reply address for one receipt, valid until ``expires`` (rounded up to the minute)."""
    settings.project(project_code)  # raises ConfigError for an unknown project
    if receipt_id < 0:
        raise ValueError("receipt id must not be negative")
    if expires.tzinfo is None:
        raise ValueError("expires must be timezone-aware")
    minutes = max(0, math.ceil((expires - EPOCH).total_seconds() / 60))
    mac = _mac(settings.secret_key, project_code, receipt_id, minutes)
    token = f"r-{_base36(receipt_id)}-{_base36(minutes)}-{mac}"
    return f"proj-{project_code}+{token}@{settings.gateway.domain}"


def verify_reply_address(settings: Settings, address: str, *,
                         now: datetime) -> ReplyToken | None:
    """The token in ``address`` when it is ours, untampered and unexpired; else None.

    Matching is case-insensitive; anything that is not exactly the shape we issue (other
    domains, trailing dots, quoted or non-ASCII local parts) is not a reply address.
    """
    if not address.isascii():
        return None
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or domain != settings.gateway.domain:
        return None
    match = _LOCAL.match(local)
    if match is None or match["code"] not in settings.projects:
        return None
    receipt_id, minutes = int(match["rid"], 36), int(match["exp"], 36)
    expected = _mac(settings.secret_key, match["code"], receipt_id, minutes)
    if not hmac.compare_digest(expected, match["mac"]):
        return None
    expires = EPOCH + timedelta(minutes=minutes)
    if now >= expires:
        return None
    return ReplyToken(project_code=match["code"], receipt_id=receipt_id, expires=expires)
