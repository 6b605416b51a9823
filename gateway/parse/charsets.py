"""Turning bytes of unknown honesty into text: charset labels, their lies, and the fall-backs.

Order of trust for a body or header: the declared charset when its bytes decode strictly (and are
not plainly UTF-8 under another label), then UTF-8, then charset-normalizer's guess, then the
declared charset with replacement characters. Chinese labels are widened to GB18030 because the
CPython ``gb2312`` codec rejects characters (e.g. 镕, 〇, euro sign) that real "gb2312" mail from
Outlook, Foxmail and Coremail contains: those clients actually send GBK/CP936.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

# Labels whose real-world meaning is "whatever Windows code page 936 produced" (WHATWG agrees).
_GB_FAMILY = frozenset({
    "gb2312", "gbk", "cp936", "x-gbk", "euc-cn", "euccn", "x-euc-cn", "gb_2312-80", "gb_2312",
    "csgb2312", "chinese", "iso-ir-58", "ms936", "windows-936", "hz-gb-2312", "gb18030",
})
# Labels seen in the wild that Python does not know under that spelling.
_ALIASES = {
    "big5-hkscs": "big5hkscs", "x-big5": "big5", "cn-big5": "big5", "big-5": "big5",
    "unicode-1-1-utf-7": "utf-7", "x-unicode-2-0-utf-7": "utf-7", "utf8": "utf-8",
    "x-user-defined": "windows-1252", "unknown-8bit": "windows-1252", "x-unknown": "windows-1252",
    "iso-8859-8-i": "iso-8859-8", "ks_c_5601-1987": "cp949", "x-sjis": "shift_jis",
    "us-ascii": "ascii", "ansi_x3.4-1968": "ascii", "latin-1": "iso-8859-1",
}
# Small enough that charset-normalizer stays fast; a long prefix is plenty to guess from.
_GUESS_PREFIX = 64 * 1024
_SCORE_PREFIX = 4096


def normalize_charset(label: str | None) -> str | None:
    """Map a declared charset label to a Python codec name, or None when unknown or absent."""
    if not label:
        return None
    name = label.strip().strip("\"'").lower()
    if name in _GB_FAMILY or name.startswith("gb2312"):
        return "gb18030"
    name = _ALIASES.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except (LookupError, ValueError):
        return None
    # windows-1252 is a superset of latin-1 in practice: senders mislabel smart quotes daily.
    return "windows-1252" if codec in ("latin-1", "iso8859-1") else codec


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _plausible(char: str, codec: str) -> bool:
    """Is ``char`` something a human writing in ``codec``'s language commonly types?"""
    if char.isascii():
        return True
    if codec == "gb18030":  # GB2312 = the 6,763 everyday simplified characters + punctuation
        return _strict_encode(char, "gb2312")
    if codec == "big5":     # Big5 level 1 (lead bytes A4-C6) = frequently used traditional ones
        raw = _strict_encode_bytes(char, "big5")
        return raw is not None and 0xA1 <= raw[0] <= 0xC6
    return (char.isalpha() and ord(char) < 0x250) or char in "‘’“”–—"


def _strict_encode(char: str, codec: str) -> bool:
    return _strict_encode_bytes(char, codec) is not None


def _strict_encode_bytes(char: str, codec: str) -> bytes | None:
    try:
        return char.encode(codec)
    except UnicodeEncodeError:
        return None


def _score(data: bytes, codec: str) -> float:
    text = _strict(data[:_SCORE_PREFIX], codec) if len(data) <= _SCORE_PREFIX else \
        data[:_SCORE_PREFIX].decode(codec, errors="ignore")
    if text is None or (len(data) <= _SCORE_PREFIX and _strict(data, codec) is None):
        return 0.0
    wide = [char for char in text if not char.isascii()]
    return sum(_plausible(char, codec) for char in wide) / len(wide) if wide else 0.0


def _guess(data: bytes) -> str | None:
    """Our users write Chinese first: score GB18030, Big5 and Western before asking the model."""
    scores = {codec: _score(data, codec) for codec in ("gb18030", "big5", "windows-1252")}
    best = max(scores, key=lambda codec: scores[codec])  # ties keep the order above
    if scores[best] >= 0.8:
        return _strict(data, best) or data.decode(best, errors="replace")
    match = from_bytes(data[:_GUESS_PREFIX]).best()
    if match is None or match.encoding is None:
        return None
    return _strict(data, match.encoding) or data.decode(match.encoding, errors="replace")


def decode_bytes(data: bytes, declared: str | None, *, defects: list[str] | None = None) -> str:
    """Decode ``data`` labelled ``declared``, repairing the usual lies; never raises."""
    if data.isascii() and not _is_escape_encoded(declared):
        return data.decode("ascii")
    codec = normalize_charset(declared)
    as_utf8 = _strict(data, "utf-8")
    if codec is not None and codec != "utf-8":
        text = _strict(data, codec)
        # Valid multi-byte UTF-8 under a legacy label is almost always a lie (discourse fixture
        # chinese_reply.eml declares Big5); legacy text is rarely valid UTF-8 by accident.
        if text is not None and (as_utf8 is None or _is_escape_encoded(codec)):
            return text
    if as_utf8 is not None:
        if codec not in (None, "utf-8") and defects is not None:
            defects.append(f"charset declared {declared!r} but content is UTF-8")
        return as_utf8
    guessed = _guess(data)
    if guessed is not None:
        if defects is not None:
            defects.append(f"charset {declared!r} does not fit the bytes; guessed")
        return guessed
    return data.decode(codec or "windows-1252", errors="replace")


def _is_escape_encoded(codec: str | None) -> bool:
    """7-bit stateful encodings (ISO-2022-*, UTF-7, HZ) look like ASCII but are not."""
    if not codec:
        return False
    name = codec.lower()
    return name.startswith(("iso2022", "iso-2022", "utf-7", "utf_7", "hz", "unicode-1-1-utf-7"))


def decode_8bit_header(text: str) -> str:
    """Repair a header holding raw 8-bit bytes (surrogate-escaped by the stdlib parser)."""
    if text.isascii():
        return text
    try:
        data = text.encode("ascii", errors="surrogateescape")
    except UnicodeEncodeError:
        return text  # already real Unicode (e.g. SMTPUTF8 input decoded by someone else)
    # Raw 8-bit Chinese headers come from Foxmail/Coremail in GBK or from SMTPUTF8 in UTF-8.
    return _strict(data, "utf-8") or _strict(data, "gb18030") or decode_bytes(data, None)
