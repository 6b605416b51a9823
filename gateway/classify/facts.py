"""Filling :class:`MessageFacts` from a parsed message (or, for the CLI and bench, raw bytes).

:func:`facts_from_parsed` is duck-typed on the parse stage's ``ParsedMessage`` fields (subject,
from_addr, to, cc, headers, own_text, attachments), so classification is tested with plain
values and does not depend on the parser's internals. The sender's own text (quotes and
signature removed by the parse stage) is what the rules read: quoted history belongs to the
messages it quotes.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import MappingProxyType
from typing import Protocol

from gateway.addresses import try_normalize
from gateway.classify.model import MessageFacts
from gateway.parse import parse_message


class _Attachment(Protocol):
    @property
    def filename(self) -> str: ...


class ParsedLike(Protocol):
    """The fields of ``gateway.parse.ParsedMessage`` that classification reads."""

    @property
    def subject(self) -> str: ...
    @property
    def from_addr(self) -> str | None: ...
    @property
    def to(self) -> Sequence[tuple[str, str]]: ...
    @property
    def cc(self) -> Sequence[tuple[str, str]]: ...
    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...
    @property
    def own_text(self) -> str: ...
    @property
    def attachments(self) -> Sequence[_Attachment]: ...


def _addresses(pairs: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    found = (try_normalize(addr) for _, addr in pairs)
    return tuple(dict.fromkeys(a for a in found if a))


def _header_map(headers: Sequence[tuple[str, str]]) -> MappingProxyType[str, str]:
    table: dict[str, str] = {}
    for name, value in headers:
        table.setdefault(name.lower(), str(value))
    return MappingProxyType(table)


def facts_from_parsed(parsed: ParsedLike) -> MessageFacts:
    """The classification input of one parsed message."""
    return MessageFacts(
        subject=parsed.subject or "",
        sender=try_normalize(parsed.from_addr or "") or "",
        to=_addresses(parsed.to),
        cc=_addresses(parsed.cc),
        own_text=parsed.own_text or "",
        attachment_names=tuple(a.filename for a in parsed.attachments if a.filename),
        headers=_header_map(parsed.headers),
    )


def facts_from_bytes(raw: bytes) -> MessageFacts:
    """Facts of a raw message through the parse stage (raises ``Quarantine`` like it does)."""
    return facts_from_parsed(parse_message(raw))
