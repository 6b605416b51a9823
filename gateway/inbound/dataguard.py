"""Checks on the DATA of one SMTP/LMTP transaction before it is stored.

Pure functions over the received bytes (after dot-unstuffing), each returning the SMTP reply that
refuses the message, or None. They run on every message, so each is a handful of C-speed passes
over the bytes (``count``/``find``), never a Python loop over lines.

* SMTP smuggling (CVE-2023-51764/51765/51766, aiosmtpd CVE-2024-27305): aiosmtpd ends DATA only
  on ``<CRLF>.<CRLF>``, so a smuggled ``<LF>.<CR><LF>`` stays inside this message — but a mail
  containing bare ``<CR>``, bare ``<LF>`` or NUL is refused outright, as Postfix does
  (``smtpd_forbid_bare_newline``), so a downstream system with laxer line endings can never be
  tricked into splitting it. RFC 5321 §2.3.8 allows CR and LF only together; NUL is not text
  (RFC 5322 §2.1). 8-bit bytes are allowed (8BITMIME, RFC 6152; SMTPUTF8, RFC 6531).
* Lines over 998 octets (RFC 5322 §2.1.1, configurable): refused with ``500 5.5.2``.
* Mail loops: more than :data:`MAX_HOPS` ``Received`` headers (RFC 5321 §6.3; Postfix's
  ``hopcount_limit`` is the same 50) is refused with ``554 5.4.6``.
"""

from __future__ import annotations

import re

MAX_HOPS = 50

BARE_LINE_ENDING = "550 5.5.2 Message refused: bare <CR>, bare <LF> or NUL in message data"
LOOP = "554 5.4.6 Message refused: too many Received headers, a mail loop (RFC 5321 6.3)"

_HEADER_END = b"\r\n\r\n"
_RECEIVED = re.compile(rb"^received[ \t]*:", re.IGNORECASE | re.MULTILINE)


def line_ending_fault(data: bytes) -> str | None:
    """Refuse data with a CR or LF that is not part of a CRLF pair, or with a NUL byte."""
    pairs = data.count(b"\r\n")
    if data.count(b"\r") != pairs or data.count(b"\n") != pairs or b"\0" in data:
        return BARE_LINE_ENDING
    return None


def hop_count(data: bytes) -> int:
    """How many ``Received`` header fields the header section holds."""
    end = data.find(_HEADER_END)
    header = data if end < 0 else data[: end + 2]
    return len(_RECEIVED.findall(header))


def loop_fault(data: bytes) -> str | None:
    """Refuse a message that has already passed more than :data:`MAX_HOPS` hops."""
    if hop_count(data) > MAX_HOPS:
        return LOOP
    return None


def line_length_fault(data: bytes, max_length: int) -> str | None:
    """Refuse a line longer than ``max_length`` octets without its CRLF (RFC 5322 §2.1.1).

    Decision: refuse (500) rather than fold or quarantine — the sender learns at once, and the
    MTA in front (Postfix ``smtp_line_length_limit``) already folds long lines for us. Split on
    CRLF only: data with bare CR/LF was refused before this runs. One pass, linear.
    """
    if len(data) > max_length and max(map(len, data.split(b"\r\n"))) > max_length:
        return f"500 5.5.2 Line too long: over {max_length} octets (RFC 5322 2.1.1)"
    return None


def data_fault(data: bytes, *, max_line_length: int = 998) -> str | None:
    """The first reason to refuse ``data``, or None when it may be stored."""
    return (line_ending_fault(data) or line_length_fault(data, max_line_length)
            or loop_fault(data))
