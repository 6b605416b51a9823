"""Plain data of the classification stage: what it reads and what it decides.

:class:`MessageFacts` is the stage's own small input, filled by the pipeline from a parsed
message (:func:`gateway.classify.facts.facts_from_parsed`), so classification can be tested with
hand-built values and does not depend on the parser's internals. :class:`Classification` is the
decision with its :class:`Reason` list; :class:`Finding` is a compliance finding about a thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from gateway.config.classify import Category, FormalityName, GroupName, Urgency

Field = str  # "category", "stakeholder_group", "formality", "urgency", "receipt_required"


def _no_headers() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class MessageFacts:
    """What classification looks at. Addresses are canonical; header names are lower-case."""

    subject: str
    sender: str
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    own_text: str = ""
    attachment_names: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=_no_headers)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Reason:
    """Why one field got its value: which rule fired, on which words, with what weight."""

    field: Field
    rule: str
    evidence: tuple[str, ...] = ()
    weight: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "rule": self.rule, "evidence": list(self.evidence),
                "weight": self.weight}


@dataclass(frozen=True)
class Classification:
    """The classification of one message (policy 3, 4.1 table 4-1, 4.3)."""

    category: Category
    stakeholder_group: GroupName
    formality: FormalityName
    urgency: Urgency
    receipt_required: bool
    reasons: tuple[Reason, ...] = ()

    def reasons_for(self, name: Field) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.field == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "stakeholder_group": self.stakeholder_group,
            "formality": self.formality,
            "urgency": self.urgency,
            "receipt_required": self.receipt_required,
            "reasons": [r.as_dict() for r in self.reasons],
        }


@dataclass(frozen=True)
class ThreadEntry:
    """One message of a thread as the compliance checks see it."""

    facts: MessageFacts
    at: datetime
    classification: Classification | None = None  # computed when missing


@dataclass(frozen=True)
class Finding:
    """A compliance finding: a stable ``code``, messages in both languages, and evidence."""

    code: str
    message_zh: str
    message_en: str
    evidence: Mapping[str, Any]
    clause: str = ""
    entry_index: int = 0  # which message of the thread it is about

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "clause": self.clause, "message_zh": self.message_zh,
                "message_en": self.message_en, "evidence": dict(self.evidence),
                "entry_index": self.entry_index}
