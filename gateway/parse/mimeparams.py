"""MIME header parameters (RFC 2045 §5.1, RFC 2231) and attachment file names as clients send them.

The stdlib decodes RFC 2231 values with the declared charset and ``errors="replace"``, so a
``filename*=gb2312''…`` holding GBK-only characters loses them (the CPython ``gb2312`` trap), and
it does not decode the RFC 2047 encoded-words Outlook, Foxmail and QQ Mail put inside quoted
``filename="=?GBK?B?…?="`` (forbidden by RFC 2047 §5, universal in practice), nor raw 8-bit GBK
names. We parse the raw header ourselves and decode through :mod:`gateway.parse.charsets`.

The media type is read from the raw value too: ``policy.default`` re-parses a header into an
object on every access, and the walk only needs the type and a few parameters.
"""

from __future__ import annotations

import re
from email.message import Message
from urllib.parse import unquote_to_bytes

from gateway.parse.charsets import decode_8bit_header, decode_bytes
from gateway.parse.headers import decode_header_value

_PARAM = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', re.S)
_SECTION = re.compile(r"^([^*]+)(?:\*(\d+))?(\*)?$")


def parse_params(value: str) -> dict[str, str]:
    """All parameters of a raw Content-Type/Content-Disposition value, decoded; never raises."""
    value = decode_8bit_header(value.replace("\r\n", "").replace("\n", ""))
    plain: dict[str, str] = {}
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    for match in _PARAM.finditer(";" + value.split(";", 1)[1] if ";" in value else ""):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1] if raw.endswith('"') else raw[1:])
        parts = _SECTION.match(key)
        if parts is None:
            continue
        name, number, extended = parts.group(1), parts.group(2), bool(parts.group(3))
        if number is None and not extended:
            plain.setdefault(name, raw)
        else:
            sections.setdefault(name, []).append((int(number or 0), extended, raw))
    for name, pieces in sections.items():
        plain[name] = _join_sections(sorted(pieces))  # RFC 2231 wins over the plain form
    return {name: decode_header_value(text) if "=?" in text else text
            for name, text in plain.items()}


def _join_sections(pieces: list[tuple[int, bool, str]]) -> str:
    """RFC 2231 §3-4: ``name*0*=charset'lang'%XX…; name*1*=%XX…; name*2="plain"``."""
    charset: str | None = None
    data = bytearray()
    for index, (_, extended, raw) in enumerate(pieces):
        if extended and index == 0 and raw.count("'") >= 2:
            charset, _, raw = raw.split("'", 2)
        data += unquote_to_bytes(raw) if extended else raw.encode("utf-8", "surrogateescape")
    return decode_bytes(bytes(data), charset or "utf-8")


def filename_from(disposition: str | None, content_type: str | None) -> str | None:
    """The attachment name: Content-Disposition ``filename`` first, then Content-Type ``name``."""
    for value, key in ((disposition, "filename"), (content_type, "name")):
        if value:
            name = parse_params(value).get(key)
            if name and name.strip():
                return _safe_name(name)
    return None


def _safe_name(name: str) -> str:
    """Keep only the last path component and drop control characters (a name is not a path)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".")
    return name[:255] or "attachment"


def raw_header(part: Message, name: str) -> str | None:
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return None


def content_type(part: Message) -> str:
    """RFC 2045 §5.2: a missing or broken Content-Type means text/plain (message/rfc822 inside
    multipart/digest, RFC 2046 §5.1.5). Read from the raw value: header objects are slow."""
    raw = raw_header(part, "content-type")
    value = raw.split(";", 1)[0].strip().lower() if raw else ""
    if value.count("/") == 1 and all(value.split("/")):
        return value
    return part.get_default_type()
