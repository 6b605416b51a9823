"""The field decisions of classification: markers, category score, urgency, formality, receipt.

Each function takes the message's facts and the compiled rules and returns a value with the
:class:`~gateway.classify_model.Reason` list that explains it. :func:`gateway.classify.classify`
composes them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from gateway.classify_config import (
    CATEGORIES,
    Category,
    FormalityName,
    GroupName,
    Marker,
    Urgency,
)
from gateway.classify_model import MessageFacts, Reason
from gateway.classify_rules import Keyword, Matcher, Rules

_TAG = re.compile(r"[【\[〔［〖]\s*([^】\]〕］〗【\[]{1,30}?)\s*[】\]〕］〗]")
_REPLY = re.compile(r"^\s*(re|回复|答复|reply|aw|sv)\s*[:：]", re.IGNORECASE)


@dataclass(frozen=True)
class FoundMarker:
    tag: str  # as written in the subject
    marker: Marker

    def reason(self, field: str, value: str) -> Reason:
        return Reason(field, f"marker:{self.marker.tag}", (f"【{self.tag}】", value), 10.0)


def is_reply(subject: str) -> bool:
    return _REPLY.match(subject) is not None


def subject_markers(subject: str, rules: Rules) -> tuple[FoundMarker, ...]:
    """The known markers in the subject, in order; none for a reply (see module docs)."""
    if is_reply(subject):
        return ()
    found: list[FoundMarker] = []
    for match in _TAG.finditer(subject):
        tag = match.group(1).strip()
        found.extend(FoundMarker(tag, m) for m in rules.markers.get(tag.casefold(), ()))
    return tuple(found)


def _texts(facts: MessageFacts, where: str) -> tuple[tuple[str, str], ...]:
    attachments = "\n".join(facts.attachment_names)
    return {
        "any": (("subject", facts.subject), ("body", facts.own_text)),
        "subject": (("subject", facts.subject),),
        "body": (("body", facts.own_text),),
        "attachments": (("attachments", attachments),),
    }[where]


def _keyword_hit(keyword: Keyword, facts: MessageFacts, group: GroupName,
                 rules: Rules) -> Reason | None:
    if keyword.groups and group not in keyword.groups:
        return None
    for place, text in _texts(facts, keyword.where):
        evidence = keyword.matcher.find(text, rules.negation)
        if evidence is not None:
            factor = rules.config.subject_factor if place == "subject" else 1.0
            return Reason("category", f"keyword:{keyword.name}", (evidence, place),
                          round(keyword.weight * factor, 2))
    return None


def category_from_header(facts: MessageFacts, rules: Rules) -> tuple[Category, Reason] | None:
    name = rules.config.category_header
    value = (facts.header(name) or "").strip().lower()
    for category in CATEGORIES:
        if value == category:
            return category, Reason("category", f"header:{name}", (value,), 10.0)
    return None


def score_category(facts: MessageFacts, group: GroupName,
                   rules: Rules) -> tuple[Category, tuple[Reason, ...]]:
    """The best-scoring category (at least ``min_score``), else ``general``."""
    hits: dict[Category, list[Reason]] = defaultdict(list)
    for keyword in rules.keywords:
        reason = _keyword_hit(keyword, facts, group, rules)
        if reason is not None:
            hits[keyword.category].append(reason)
    scores = {c: round(sum(r.weight for r in rs), 2) for c, rs in hits.items()}
    ranked = sorted(scores, key=lambda c: (-scores[c], CATEGORIES.index(c)))
    if not ranked or scores[ranked[0]] < rules.config.min_score:
        seen = ", ".join(f"{c}={scores[c]}" for c in ranked) or "no keyword matched"
        return "general", (Reason("category", "score:below min_score",
                                  (seen, f"min_score={rules.config.min_score}")),)
    best = ranked[0]
    others = ", ".join(f"{c}={scores[c]}" for c in ranked[1:]) or "none"
    summary = Reason("category", "score:highest", (f"{best}={scores[best]}", f"others: {others}"),
                     scores[best])
    return best, (summary, *hits[best])


def _first_word(matchers: tuple[Matcher, ...], facts: MessageFacts,
                rules: Rules) -> tuple[Matcher, str] | None:
    for matcher in matchers:
        for text in (facts.subject, facts.own_text):
            evidence = matcher.find(text, rules.negation)
            if evidence is not None:
                return matcher, evidence
    return None


def decide_urgency(facts: MessageFacts, category: Category, markers: tuple[FoundMarker, ...],
                   rules: Rules) -> tuple[Urgency, tuple[Reason, ...]]:
    for found in markers:
        if found.marker.urgency is not None:
            return found.marker.urgency, (found.reason("urgency", found.marker.urgency),)
    word = _first_word(rules.urgent, facts, rules)
    if word is not None:
        return "urgent", (Reason("urgency", f"word:{word[0].name}", (word[1],), 1.0),)
    if category in rules.config.urgent_categories:
        return "urgent", (Reason("urgency", "category:urgent_categories", (category,), 1.0),)
    return "normal", (Reason("urgency", "default:normal"),)


def decide_formality(facts: MessageFacts, category: Category, markers: tuple[FoundMarker, ...],
                     rules: Rules) -> tuple[FormalityName, tuple[Reason, ...]]:
    for found in markers:
        if found.marker.formality is not None:
            return found.marker.formality, (found.reason("formality", found.marker.formality),)
    if category in rules.config.formal_categories:
        return "formal_written", (Reason("formality", "category:formal_categories",
                                         (category,), 1.0),)
    for name in facts.attachment_names:
        for matcher in rules.formal_attachment:
            evidence = matcher.find(name, None)
            if evidence is not None:
                return "formal_written", (Reason("formality", f"attachment:{matcher.name}",
                                                 (name, evidence), 1.0),)
    return "written", (Reason("formality", "default:written"),)


def decide_receipt(facts: MessageFacts, category: Category, markers: tuple[FoundMarker, ...],
                   rules: Rules) -> tuple[bool, tuple[Reason, ...]]:
    flagged = [f for f in markers if f.marker.receipt is not None]
    for found in sorted(flagged, key=lambda f: not f.marker.receipt):
        value = bool(found.marker.receipt)
        return value, (found.reason("receipt_required", str(value).lower()),)
    word = _first_word(rules.receipt, facts, rules)
    if word is not None:
        return True, (Reason("receipt_required", f"word:{word[0].name}", (word[1],), 1.0),)
    if category in rules.config.receipt_categories:
        return True, (Reason("receipt_required", "category:receipt_categories", (category,), 1.0),)
    return False, (Reason("receipt_required", "default:none"),)
