"""Rebuild what a record says about itself from its own messages (after a split).

The record stage builds a record message by message; a split takes messages away from it, so
both halves are rebuilt here by the very same rules: the first message opens the
classification, later ones fold in through :func:`gateway.records.store.apply_classification`,
the summary is :func:`gateway.records.store.summarize` of the first message, parties come from
every message's From/To/Cc. A message whose raw mail cannot be read is judged on what the parse
stage stored. Pure of I/O except the raw loader it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.classify.message import classify, facts_from_parsed
from gateway.classify.model import Classification, MessageFacts
from gateway.config.settings import ProjectConfig
from gateway.errors import GatewayError
from gateway.parse import parse_message
from gateway.records.store import (
    apply_classification,
    find_conclusion,
    parties_with_groups,
    summarize,
)
from gateway.store.models import Message, Record

RawLoader = Callable[[str], bytes]


@dataclass(frozen=True)
class Reading:
    """One message as the record stage saw it: its classification and its people."""

    message: Message
    classification: Classification
    people: list[tuple[str, str, str | None]]
    own_text: str


def read(message: Message, project: ProjectConfig, raw: RawLoader | None) -> Reading:

    parsed: Any = None
    if raw is not None:
        try:
            parsed = parse_message(raw(message.sha256))
        except (GatewayError, OSError, KeyError):
            parsed = None  # missing or unparsable raw mail: what the parse stage stored
    if parsed is not None:
        people: list[tuple[str, str, str | None]] = [("from", parsed.from_name,
                                                       parsed.from_addr)]
        people += [("to", n, a) for n, a in parsed.to] + [("cc", n, a) for n, a in parsed.cc]
        return Reading(message, classify(facts_from_parsed(parsed), project), people,
                       parsed.own_text or parsed.text or "")
    facts = MessageFacts(subject=message.subject, sender=message.from_addr or "",
                         to=tuple(message.to_addrs), cc=tuple(message.cc_addrs),
                         own_text=message.own_text)
    people = [("from", message.from_name, message.from_addr)]
    people += [("to", "", a) for a in message.to_addrs] + [("cc", "", a) for a in message.cc_addrs]
    return Reading(message, classify(facts, project), people, message.own_text)


def _reasons(c: Classification) -> list[Any]:
    return [r.as_dict() if hasattr(r, "as_dict") else str(r) for r in c.reasons]


def rebuild(record: Record, readings: Sequence[Reading], project: ProjectConfig, *,
            now: datetime) -> None:
    """Classification, subject, summary, parties, count and dates from ``readings`` (in order)."""
    if not readings:
        raise ValueError(f"record {record.id} would have no messages")
    first = readings[0]
    c = first.classification
    record.category, record.stakeholder_group = c.category, c.stakeholder_group
    record.formality, record.urgency = c.formality, c.urgency
    record.receipt_required, record.reasons = c.receipt_required, _reasons(c)
    for reading in readings[1:]:
        apply_classification(record, reading.classification, _reasons(reading.classification))
    record.subject = first.message.subject
    record.summary = summarize(first.own_text)
    parties: list[dict[str, Any]] = []
    for reading in readings:
        known = {p["address"] for p in parties}
        parties += [p for p in parties_with_groups(reading.people, project)
                    if p["address"] not in known]
    record.parties = parties
    record.message_count = len(readings)
    record.created_at = min(r.message.sent_at or r.message.received_at for r in readings)
    record.updated_at = now


def mail_conclusion(readings: Sequence[Reading]) -> tuple[str, Message] | None:
    """The latest conclusion a message of ``readings`` states, with that message."""
    found = None
    for reading in readings:
        text = find_conclusion(reading.message.subject, reading.own_text)
        if text:
            found = (text, reading.message)
    return found
