"""Compiling classification rules: company defaults + a project's section → ready matchers.

Merging: a project's lists are appended to the defaults (``use_default_rules = false`` drops the
defaults), its scalar settings replace them, and ``disabled_rules`` removes rules by name.
Compiling happens once per distinct configuration (:func:`rules_for` is cached); configurations
are frozen and hashable, so two projects with the same section share one compiled set.

Matching is case-insensitive. A word whose edge is an ASCII letter or digit only matches at an
ASCII word boundary (``P1`` does not match ``AP10``); Chinese needs no boundary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

from gateway.config.classify import Category, ClassificationConfig, GroupName, KeywordRule, Marker
from gateway.rules import default_rules

_EDGE_START = r"(?:(?<![A-Za-z0-9])|(?=[^A-Za-z0-9]))"
_EDGE_END = r"(?:(?![A-Za-z0-9])|(?<=[^A-Za-z0-9]))"
_CLAUSE_BREAK = re.compile(r"[，。；;,.!！?？\n、：:]")
NEGATION_WINDOW = 6
_LIST_FIELDS = ("markers", "keywords", "urgent_words", "urgent_subject_words", "receipt_words",
                "formal_attachment_words", "reason_words", "impact_words", "confirmation_words",
                "negations", "hypothetical_words", "not_cues")


@dataclass(frozen=True)
class Matcher:
    """One compiled word or pattern."""

    name: str
    regex: re.Pattern[str]
    negatable: bool = True

    def matches(self, text: str, negation: re.Pattern[str] | None) -> Iterator[re.Match[str]]:
        """Every non-negated match in ``text``."""
        for match in self.regex.finditer(text):
            if self.negatable and negation is not None and _negated(text, match.start(), negation):
                continue
            yield match

    def find(self, text: str, negation: re.Pattern[str] | None) -> str | None:
        """The first non-negated match in ``text``, or None."""
        match = next(self.matches(text, negation), None)
        return None if match is None else match.group(0)[:40]


@dataclass(frozen=True)
class Keyword:
    """A compiled :class:`~gateway.config.classify.KeywordRule`."""

    category: Category
    weight: float
    where: str
    groups: frozenset[GroupName]
    matcher: Matcher
    names_document: bool = False

    @property
    def name(self) -> str:
        return self.matcher.name


@dataclass(frozen=True)
class Rules:
    """Everything :func:`gateway.classify.message.classify` needs, compiled."""

    config: ClassificationConfig
    markers: Mapping[str, tuple[Marker, ...]]  # lower-case tag → markers
    keywords: tuple[Keyword, ...]
    urgent: tuple[Matcher, ...]
    urgent_subject: tuple[Matcher, ...]
    receipt: tuple[Matcher, ...]
    formal_attachment: tuple[Matcher, ...]
    reason: tuple[Matcher, ...]
    impact: tuple[Matcher, ...]
    confirmation: tuple[Matcher, ...]
    negation: re.Pattern[str] | None
    hypothetical: re.Pattern[str] | None
    not_cues: re.Pattern[str] | None


def _negated(text: str, start: int, negation: re.Pattern[str]) -> bool:
    before = text[max(0, start - NEGATION_WINDOW):start]
    breaks = list(_CLAUSE_BREAK.finditer(before))
    if breaks:
        before = before[breaks[-1].end():]
    return negation.search(before) is not None


def compile_pattern(pattern: str, *, regex: bool, at_end: bool = False) -> re.Pattern[str]:
    """``at_end``: the match must end the text (a head noun ends its part of the subject; so
    "质量状况通报" finds "状况通报", not the earlier "质量状况")."""
    body = pattern if regex else re.escape(pattern)
    return re.compile(f"{_EDGE_START}(?:{body}){_EDGE_END}{'$' if at_end else ''}",
                      re.IGNORECASE)


def _words(name: str, words: Iterable[str], *, negatable: bool = True) -> tuple[Matcher, ...]:
    return tuple(Matcher(f"{name}:{w}", compile_pattern(w, regex=False), negatable)
                 for w in dict.fromkeys(words))


def keyword_name(rule: KeywordRule) -> str:
    return rule.name or f"{rule.category}:{rule.pattern}"


def merge(defaults: ClassificationConfig, project: ClassificationConfig) -> ClassificationConfig:
    """The effective configuration of a project (see the module docstring)."""
    values = {name: getattr(defaults, name) for name in ClassificationConfig.model_fields}
    for name in project.model_fields_set:
        if name not in _LIST_FIELDS:
            values[name] = getattr(project, name)
    for name in _LIST_FIELDS:
        base = getattr(defaults, name) if project.use_default_rules else ()
        values[name] = tuple(base) + tuple(getattr(project, name))
    disabled = set(values["disabled_rules"])
    values["markers"] = tuple(m for m in values["markers"] if f"marker:{m.tag}" not in disabled)
    values["keywords"] = tuple(k for k in values["keywords"] if keyword_name(k) not in disabled)
    return ClassificationConfig.model_validate(values)


def _markers(markers: Iterable[Marker]) -> Mapping[str, tuple[Marker, ...]]:
    table: dict[str, tuple[Marker, ...]] = {}
    for marker in markers:
        key = marker.tag.casefold()
        table[key] = table.get(key, ()) + (marker,)
    return MappingProxyType(table)


def _keywords(rules: Iterable[KeywordRule]) -> tuple[Keyword, ...]:
    return tuple(
        Keyword(category=r.category, weight=r.weight, where=r.where, groups=frozenset(r.groups),
                matcher=Matcher(keyword_name(r), compile_pattern(r.pattern, regex=r.regex,
                                                                 at_end=r.where == "head"),
                                r.negatable),
                names_document=r.names_document)
        for r in rules)


def compile_rules(config: ClassificationConfig) -> Rules:
    """Compile an already merged configuration."""
    negation = "|".join(f"(?:{n})" for n in config.negations)
    hypothetical = "|".join(f"(?:{h})" for h in config.hypothetical_words)
    not_cues = "|".join(f"(?:{n})" for n in config.not_cues)
    return Rules(
        config=config,
        markers=_markers(config.markers),
        keywords=_keywords(config.keywords),
        urgent=_words("urgent", config.urgent_words),
        urgent_subject=_words("urgent", config.urgent_subject_words),
        receipt=_words("receipt", config.receipt_words),
        formal_attachment=_words("attachment", config.formal_attachment_words, negatable=False),
        # "无影响" states the impact: what a change notice must say is never negated
        reason=_words("reason", config.reason_words, negatable=False),
        impact=_words("impact", config.impact_words, negatable=False),
        confirmation=_words("confirmation", config.confirmation_words),
        negation=re.compile(negation, re.IGNORECASE) if negation else None,
        hypothetical=re.compile(hypothetical, re.IGNORECASE) if hypothetical else None,
        not_cues=re.compile(not_cues, re.IGNORECASE) if not_cues else None,
    )


@lru_cache(maxsize=128)
def rules_for(project_section: ClassificationConfig) -> Rules:
    """The compiled rules for a project's ``[classification]`` section (cached)."""
    return compile_rules(merge(default_rules(), project_section))
