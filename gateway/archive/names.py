"""Safe entry names for the archive: attachment names as the sender wrote them, made harmless.

Attachment names come from the mail (RFC 2231 / RFC 2047, often GBK-encoded Chinese) and are
hostile input: ``../../etc/passwd``, ``C:\\x``, control characters, Windows device names
(``CON``, ``LPT1``), names of a thousand characters. We keep Chinese and other letters (the
quality department must recognise 《割接方案》.docx), take only the last path component, drop what
Windows or unzip tools refuse, bound the length in UTF-8 bytes and keep the extension.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 180  # below the 255-byte limit of common filesystems, room for " (12)"
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*\u202a-\u202e\u2066-\u2069]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def _truncate(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")[:limit]
    return encoded.decode("utf-8", errors="ignore")


def safe_name(name: str, *, fallback: str = "attachment") -> str:
    """One harmless path component that still reads like ``name``."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]  # a path in the name: keep the file part only
    name = _FORBIDDEN.sub("_", name).strip().strip(".")
    name = re.sub(r"\s+", " ", name)
    if not name or set(name) <= {"_", " "}:
        name = fallback
    if _RESERVED.match(name):
        name = "_" + name
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext.encode("utf-8")) <= 16:
            name = _truncate(stem, MAX_NAME_BYTES - len(ext.encode("utf-8")) - 1) + "." + ext
        else:
            name = _truncate(name, MAX_NAME_BYTES)
    return name


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``stem (2).ext`` … when a file of that name (case-insensitively) exists."""
    candidate, n = name, 1
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    while candidate.casefold() in taken:
        n += 1
        candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
    taken.add(candidate.casefold())
    return candidate
