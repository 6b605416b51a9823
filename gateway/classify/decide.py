"""The field decisions of classification: markers, category score, urgency, formality, receipt.

Each function takes the message's facts and the compiled rules and returns a value with the
:class:`~gateway.classify.model.Reason` list that explains it.
:func:`gateway.classify.message.classify`
composes them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, replace

from gateway.classify.model import MessageFacts, Reason
from gateway.classify.rules import Keyword, Matcher, Rules
from gateway.classify.text import clause_before, ends_head, head_parts, readable, split_body
from gateway.config.classify import CATEGORIES, Category, FormalityName, GroupName, Marker, Urgency

_TAG = re.compile(r"[【\[〔［〖]\s*([^】\]〕］〗【\[]{1,30}?)\s*[】\]〕］〗]")
# added to a change notice's score when the change states its reason and impact (4.2.1)
STATED_CHANGE_WEIGHT = 1.5
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


@dataclass(frozen=True)
class Place:
    """One region of a message the rules read, with the factor a cue there weighs."""

    name: str  # subject, head, lead, body, attachments
    text: str
    factor: float


def places(facts: MessageFacts, rules: Rules) -> dict[str, tuple[Place, ...]]:
    """The message's regions for each ``where`` of a keyword rule (see gateway.classify.text)."""
    config = rules.config
    subject = Place("subject", readable(facts.subject, subject=True, not_cues=rules.not_cues),
                    config.subject_factor)
    head = tuple(Place("head", part, config.subject_factor)
                 for part in head_parts(subject.text))
    body = split_body(readable(facts.own_text, not_cues=rules.not_cues))
    lead = Place("lead", body.lead, 1.0)
    rest = Place("body", body.rest, config.body_factor)
    attachments = Place("attachments", "\n".join(facts.attachment_names), 1.0)
    return {"any": (subject, lead, rest), "subject": (subject,), "head": head,
            "body": (lead, rest), "attachments": (attachments,)}


def _hypothetical(text: str, start: int, rules: Rules) -> bool:
    return (rules.hypothetical is not None
            and rules.hypothetical.search(clause_before(text, start)) is not None)


def _keyword_hit(keyword: Keyword, regions: dict[str, tuple[Place, ...]],
                 groups: Collection[GroupName], rules: Rules) -> Reason | None:
    """The keyword's strongest occurrence: a rule counts once per message, where it weighs most."""
    if keyword.groups and keyword.groups.isdisjoint(groups):
        return None
    best: Reason | None = None
    for place in regions[keyword.where]:
        for match in keyword.matcher.matches(place.text, rules.negation):
            if keyword.where == "head" and match.end() != len(place.text):
                continue  # a head noun ends its part of the subject
            factor, where = place.factor, place.name
            if (keyword.names_document and place.name == "subject"
                    and not ends_head(place.text, match.end())):
                factor, where = rules.config.body_factor, "subject, mention"
            if keyword.category != "risk" and _hypothetical(place.text, match.start(), rules):
                factor, where = factor * rules.config.hypothetical_factor, f"{where}, hypothetical"
            weight = round(keyword.weight * factor, 2)
            if best is None or weight > best.weight:
                best = Reason("category", f"keyword:{keyword.name}", (match.group(0)[:40], where),
                              weight)
    return best if best is not None and best.weight > 0 else None


def category_from_header(facts: MessageFacts, rules: Rules) -> tuple[Category, Reason] | None:
    name = rules.config.category_header
    value = (facts.header(name) or "").strip().lower()
    for category in CATEGORIES:
        if value == category:
            return category, Reason("category", f"header:{name}", (value,), 10.0)
    return None


def _change_stated(regions: dict[str, tuple[Place, ...]], groups: Collection[GroupName],
                   rules: Rules) -> Reason | None:
    """A change told to the client with its reason and its impact is a change notice by its
    form (4.2.1 asks for exactly that): the bonus of a message with change cues that says both."""
    if "customer" not in groups:
        return None
    text = "\n".join(place.text for place in regions["any"])
    reason = next((w for w in (m.find(text, None) for m in rules.reason) if w), None)
    impact = next((w for w in (m.find(text, None) for m in rules.impact) if w), None)
    if reason is None or impact is None:
        return None
    return Reason("category", "change_notice:reason and impact stated", (reason, impact),
                  STATED_CHANGE_WEIGHT)


def category_scores(facts: MessageFacts, groups: Collection[GroupName],
                    rules: Rules) -> tuple[dict[Category, float], dict[Category, list[Reason]]]:
    """Every category's keyword score and the keyword hits behind it."""
    hits: dict[Category, list[Reason]] = defaultdict(list)
    regions = places(facts, rules)
    for keyword in rules.keywords:
        reason = _keyword_hit(keyword, regions, groups, rules)
        if reason is not None:
            hits[keyword.category].append(reason)
    if "change_notice" in hits:
        stated = _change_stated(regions, groups, rules)
        if stated is not None:
            hits["change_notice"].append(stated)
    return {c: round(sum(r.weight for r in rs), 2) for c, rs in hits.items()}, hits


def score_category(facts: MessageFacts, groups: Collection[GroupName],
                   rules: Rules) -> tuple[Category, tuple[Reason, ...]]:
    """The best-scoring category (at least ``min_score``), else ``general``; ``groups``: the
    groups of the message's parties (for rules limited to some groups)."""
    return decide_by_score(*category_scores(facts, groups, rules), rules)


def decide_by_score(scores: dict[Category, float], hits: dict[Category, list[Reason]],
                    rules: Rules) -> tuple[Category, tuple[Reason, ...]]:
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
    """The first word found in the subject or body; quoted words and hypotheticals do not count
    ("如果紧急…" is not urgent)."""
    texts = (readable(facts.subject, subject=True, not_cues=rules.not_cues),
             readable(facts.own_text, not_cues=rules.not_cues))
    for matcher in matchers:
        for text in texts:
            for match in matcher.matches(text, rules.negation):
                if not _hypothetical(text, match.start(), rules):
                    return matcher, match.group(0)[:40]
    return None


def decide_urgency(facts: MessageFacts, category: Category, markers: tuple[FoundMarker, ...],
                   rules: Rules) -> tuple[Urgency, tuple[Reason, ...]]:
    for found in markers:
        if found.marker.urgency is not None:
            return found.marker.urgency, (found.reason("urgency", found.marker.urgency),)
    word = _first_word(rules.urgent, facts, rules)
    if word is not None:
        return "urgent", (Reason("urgency", f"word:{word[0].name}", (word[1],), 1.0),)
    in_subject = _first_word(rules.urgent_subject, replace(facts, own_text=""), rules)
    if in_subject is not None:
        return "urgent", (Reason("urgency", f"subject word:{in_subject[0].name}",
                                 (in_subject[1],), 1.0),)
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
