"""Safe header values for outbound mail: every value is checked before the ``email`` API sees it.

Subjects, display names and addresses in our mail come partly from people (a notice's fields, a
stakeholder's name in config, a sender's address). A CR or LF in one of them could start a new
header (``Bcc:``) or a new recipient; a NUL truncates in C mail software. The stdlib folds such
values itself, but not reliably: CVE-2024-6923 (``email`` did not quote newlines when folding
encoded words) is present in the Python 3.11.7 we run on. So :func:`safe_header_value` refuses
any control character outright, and :func:`safe_address` accepts only a bare, canonical
``local@domain`` (RFC 5321 §4.1.2 Mailbox, no quoted local parts, no comments, no lists) plus a
checked display name. Both raise :class:`~gateway.errors.UnsafeHeader`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.headerregistry import Address

from gateway.addresses import normalize_address
from gateway.errors import UnsafeHeader

# C0 controls except TAB, DEL, C1 controls (incl. NEL U+0085), and the Unicode line/paragraph
# separators that str.splitlines() — and so the email package's folding — treats as line ends.
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# An RFC 2047 encoded word typed into a value would be decoded by the reader into whatever it
# hides (CR/LF included): refuse lookalikes instead of trusting every MUA to decode them safely.
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=")
MAX_HEADER_CHARS = 2000  # well under RFC 5322 §2.1.1's limits once encoded


def safe_header_value(value: str, *, field: str = "header") -> str:
    """``value`` unchanged when it cannot break out of its header; raise UnsafeHeader if not."""
    if not isinstance(value, str):
        raise UnsafeHeader(f"{field}: not text")
    found = _UNSAFE.search(value)
    if found is not None:
        raise UnsafeHeader(f"{field}: control character U+{ord(found.group()):04X} refused",
                           hint="a header value must be one line without CR, LF or NUL")
    if _ENCODED_WORD.search(value):
        raise UnsafeHeader(f"{field}: text looking like an RFC 2047 encoded word refused")
    if len(value) > MAX_HEADER_CHARS:
        raise UnsafeHeader(f"{field}: longer than {MAX_HEADER_CHARS} characters")
    return value


def safe_address(address: str, name: str = "", *, field: str = "address") -> Address:
    """A checked ``email.headerregistry.Address`` for ``name <address>``."""
    safe_header_value(address, field=field)
    safe_header_value(name, field=f"{field} name")
    try:
        canonical = normalize_address(address)
    except ValueError:
        raise UnsafeHeader(f"{field}: not a single mail address: {address!r}") from None
    if not canonical.isascii():
        # SMTPUTF8 (RFC 6531) is not assumed of the relay; IDNA domains are already ASCII.
        raise UnsafeHeader(f"{field}: non-ASCII local part refused: {address!r}")
    local, _, domain = canonical.partition("@")
    return Address(display_name=name.strip(), username=local, domain=domain)


def safe_addresses(items: Iterable[tuple[str, str] | str], *,
                   field: str = "address") -> list[Address]:
    """Several addresses, each given as ``"a@b"`` or ``("Name", "a@b")``; duplicates dropped."""
    out: list[Address] = []
    seen: set[str] = set()
    for item in items:
        name, addr = ("", item) if isinstance(item, str) else item
        checked = safe_address(addr, name, field=field)
        if checked.addr_spec not in seen:
            seen.add(checked.addr_spec)
            out.append(checked)
    return out


def safe_message_id(value: str, *, field: str = "Message-ID") -> str:
    """A ``<id@domain>`` reference (RFC 5322 §3.6.4) for In-Reply-To/References."""
    safe_header_value(value, field=field)
    value = value.strip()
    if not value.startswith("<"):
        value = f"<{value}>"
    if not re.fullmatch(r"<[^<>\s]+>", value) or not value.isascii():
        raise UnsafeHeader(f"{field}: not a message id: {value!r}")
    return value
