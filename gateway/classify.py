"""The classify stage: one message's category, stakeholder group, formality, urgency, receipt.

Pure logic over plain data (:class:`MessageFacts` in, :class:`Classification` out); the rules
are data (``gateway/rules/default.toml`` plus the project's ``[classification]`` section),
compiled once per configuration. Order of decision:

1. **stakeholder group** from the parties (:mod:`gateway.classify_group`);
2. **category**: the category header, else the first category marker in the subject
   (``【指令】``, ``[Decision]`` …), else the best keyword score of at least ``min_score``, else
   ``general``. Urgency-only markers such as ``【紧急】`` never decide the category. A reply
   (``Re:``/``回复:``) is judged on its own text: its subject, tags included, is the original's;
3. **urgency**, **formality** (table 4-1) and **receipt** (4.3), each from markers first, then
   words, then the category.

Every decision carries :class:`Reason` entries naming the rule and the words that fired.
Compliance findings over a thread live in :mod:`gateway.classify_findings`.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.classify_config import Category, GroupName
from gateway.classify_decide import (
    FoundMarker,
    category_from_header,
    decide_formality,
    decide_receipt,
    decide_urgency,
    is_reply,
    score_category,
    subject_markers,
)
from gateway.classify_facts import facts_from_bytes, facts_from_parsed
from gateway.classify_group import party_groups, stakeholder_group
from gateway.classify_model import Classification, Finding, MessageFacts, Reason, ThreadEntry
from gateway.classify_rules import Rules, rules_for
from gateway.config import ProjectConfig

__all__ = [
    "Classification", "Finding", "MessageFacts", "Reason", "Rules", "ThreadEntry", "classify",
    "facts_from_bytes", "facts_from_parsed", "rules_for",
]


def _category(facts: MessageFacts, groups: frozenset[GroupName],
              markers: tuple[FoundMarker, ...],
              rules: Rules) -> tuple[Category, tuple[Reason, ...]]:
    from_header = category_from_header(facts, rules)
    if from_header is not None:
        return from_header[0], (from_header[1],)
    for found in markers:
        if found.marker.category is not None:
            return found.marker.category, (found.reason("category", found.marker.category),)
    return score_category(facts, groups, rules)


def _own_words(facts: MessageFacts) -> tuple[MessageFacts, tuple[Reason, ...]]:
    """A reply is judged on its own text: its subject (tags, words) belongs to the original."""
    if not is_reply(facts.subject):
        return facts, ()
    return replace(facts, subject=""), (Reason("category", "reply:subject ignored",
                                               (facts.subject,)),)


def classify(facts: MessageFacts, project: ProjectConfig, *,
             rules: Rules | None = None) -> Classification:
    """Classify one message for ``project``; ``rules`` defaults to the project's compiled rules."""
    rules = rules if rules is not None else rules_for(project.classification)
    group, group_reasons = stakeholder_group(facts, project)
    markers = subject_markers(facts.subject, rules)
    own, reply_reasons = _own_words(facts)
    category, category_reasons = _category(own, party_groups(facts, project), markers, rules)
    urgency, urgency_reasons = decide_urgency(own, category, markers, rules)
    formality, formality_reasons = decide_formality(own, category, markers, rules)
    receipt, receipt_reasons = decide_receipt(own, category, markers, rules)
    return Classification(
        category=category,
        stakeholder_group=group,
        formality=formality,
        urgency=urgency,
        receipt_required=receipt,
        reasons=(*reply_reasons, *category_reasons, *group_reasons, *formality_reasons,
                 *urgency_reasons, *receipt_reasons),
    )
