"""The classify stage: one message's category, stakeholder group, formality, urgency, receipt.

Pure logic over plain data (:class:`MessageFacts` in, :class:`Classification` out); the rules
are data (``gateway/rules/default.toml`` plus the project's ``[classification]`` section),
compiled once per configuration. Order of decision:

1. **stakeholder group** from the parties (:mod:`gateway.classify.group`);
2. **category**: the category header, else the first category marker in the subject
   (``【指令】``, ``[Decision]`` …), else the best keyword score of at least ``min_score``, else
   ``general``. Urgency-only markers such as ``【紧急】`` never decide the category. A reply
   (``Re:``/``回复:``) is judged on its own text: its subject, tags included, is the original's;
3. **urgency**, **formality** (table 4-1) and **receipt** (4.3), each from markers first, then
   words, then the category.

Every decision carries :class:`Reason` entries naming the rule and the words that fired.
Compliance findings over a thread live in :mod:`gateway.classify.findings`.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.classify.decide import (
    FoundMarker,
    category_from_header,
    category_scores,
    decide_by_score,
    decide_formality,
    decide_receipt,
    decide_urgency,
    is_reply,
    subject_markers,
)
from gateway.classify.facts import facts_from_bytes, facts_from_parsed
from gateway.classify.group import party_groups, stakeholder_group
from gateway.classify.learn import NaiveBayes, consult, consult_receipt
from gateway.classify.model import Classification, Finding, MessageFacts, Reason, ThreadEntry
from gateway.classify.rules import Rules, rules_for
from gateway.classify.seeds import company_receipt_model
from gateway.config.classify import Category, GroupName, LearningConfig
from gateway.config.settings import ProjectConfig

Learned = tuple[NaiveBayes, LearningConfig] | None

__all__ = [
    "Classification", "Finding", "MessageFacts", "Reason", "Rules", "ThreadEntry", "classify",
    "facts_from_bytes", "facts_from_parsed", "rules_for",
]


def _category(facts: MessageFacts, groups: frozenset[GroupName],
              markers: tuple[FoundMarker, ...], rules: Rules, learned: Learned, *,
              reply: bool) -> tuple[Category, tuple[Reason, ...]]:
    from_header = category_from_header(facts, rules)
    if from_header is not None:
        return _asked(facts, from_header[0], (from_header[1],), None, rules, learned)
    for found in markers:
        if found.marker.category is not None:
            category = found.marker.category
            return _asked(facts, category, (found.reason("category", category),), None, rules,
                          learned)
    scores, hits = category_scores(facts, groups, rules)
    category, reasons = decide_by_score(scores, hits, rules)
    # tagged mail (【紧急】 too, which leaves the category to the scores) and replies stay as
    # the rules decide: a reply's few own words ("收到，马上处理") are no message the model
    # knows, and on held-out sets 2–6 it only ever made replies worse
    asked = None if markers or reply else scores
    return _asked(facts, category, reasons, asked, rules, learned)


def _asked(facts: MessageFacts, category: Category, reasons: tuple[Reason, ...],
           scores: dict[Category, float] | None, rules: Rules,
           learned: Learned) -> tuple[Category, tuple[Reason, ...]]:
    """The rules' category, after the project's learned model had its say (if it has one)."""
    if learned is None:
        return category, reasons
    model, settings = learned
    final, said = consult(facts, category, scores, model, settings, rules.config.min_score)
    return final, (*reasons, *said)


def _own_words(facts: MessageFacts) -> tuple[MessageFacts, tuple[Reason, ...]]:
    """A reply is judged on its own text: its subject (tags, words) belongs to the original."""
    if not is_reply(facts.subject):
        return facts, ()
    return replace(facts, subject=""), (Reason("category", "reply:subject ignored",
                                               (facts.subject,)),)


def classify(facts: MessageFacts, project: ProjectConfig, *, rules: Rules | None = None,
             model: NaiveBayes | None = None) -> Classification:
    """Classify one message for ``project``; ``rules`` defaults to the project's compiled rules.

    ``model``: the project's learned model (company examples and corrections,
    gateway/classify/seeds.py and learn.py), asked only where the rules are unsure — never for
    a header, a subject marker or a reply — and only when the project's ``[classify] learn`` is
    on. With company examples in it, the company receipt model may change a receipt the rules
    decided only by default.
    """
    rules = rules if rules is not None else rules_for(project.classification)
    group, group_reasons = stakeholder_group(facts, project)
    markers = subject_markers(facts.subject, rules)
    own, reply_reasons = _own_words(facts)
    learned = (model, project.classify) if model is not None and project.classify.learn else None
    category, category_reasons = _category(own, party_groups(facts, project), markers, rules,
                                           learned, reply=bool(reply_reasons))
    urgency, urgency_reasons = decide_urgency(own, category, markers, rules)
    formality, formality_reasons = decide_formality(own, category, markers, rules)
    receipt, receipt_reasons = decide_receipt(own, category, markers, rules)
    by_rules = bool(markers or reply_reasons) or category_reasons[0].rule.startswith("header:")
    if learned is not None and learned[0].company and not by_rules:
        receipt, receipt_reasons = consult_receipt(
            own, receipt, receipt_reasons, company_receipt_model(), learned[0].source,
            project.classify.receipt_confidence)
    return Classification(
        category=category,
        stakeholder_group=group,
        formality=formality,
        urgency=urgency,
        receipt_required=receipt,
        reasons=(*reply_reasons, *category_reasons, *group_reasons, *formality_reasons,
                 *urgency_reasons, *receipt_reasons),
    )
