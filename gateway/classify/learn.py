"""Learning from corrections: a small per-project model that helps the rules where they are unsure.

Every ``records reclassify`` is a labelled example: the record's first message and the category
a person gave it. :class:`NaiveBayes` is a multinomial naive Bayes over character n-grams (1–3)
of the subject (counted twice: it says what the message is) and the start of the body, with
additive smoothing. It is small enough to keep as one JSON file per project
(:mod:`gateway.records.corrections`) and is retrained after every correction.

The model never overrules a category header or a subject marker (any marker: tagged mail, an
urgency-only 【紧急】 included, stays exactly as the rules decide), nor a reply (judged on its
own few words), nor a rule decision the rules are sure of. :func:`consult` uses it only

* to **break a tie**: two or more categories score within ``tie_margin`` of the best; the model
  picks among them;
* to **rescue** a low-confidence decision: the best score is below ``low_score`` (or below
  ``min_score``, so the rules fell back to ``general``) and the model is at least
  ``confidence`` sure of another category.

Whatever it does, the decision's reasons say so, in English and zh-CN ("learned from 12
corrections", "学自 12 次纠正"; with the company examples of gateway/classify/seeds.py
"learned from 3 corrections", "and 350 company examples"). A model with company examples is asked
however few corrections the project has: ``min_corrections`` guards a model of corrections only.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.classify.model import MessageFacts, Reason
from gateway.classify.text import readable
from gateway.config.classify import CATEGORIES, Category, LearningConfig

MODEL_VERSION = 1
BODY_CHARS = 400
ALPHA = 0.5
TEMPERATURE = 8.0  # naive Bayes is over-confident: the per-gram log-likelihood is scaled by this
_SPACE = re.compile(r"\s+")


def grams(facts: MessageFacts) -> Counter[str]:
    """The character 1–3-grams of the subject (twice) and the start of the body, lower-case."""
    out: Counter[str] = Counter()
    subject = _SPACE.sub(" ", readable(facts.subject, subject=True).lower()).strip()
    body = _SPACE.sub(" ", readable(facts.own_text[:BODY_CHARS]).lower()).strip()
    for text, times in ((subject, 2), (body, 1)):
        for n in (1, 2, 3):
            for i in range(len(text) - n + 1):
                gram = text[i:i + n]
                if gram.strip():
                    out[gram] += times
    return out


@dataclass(frozen=True)
class Prediction:
    label: Category
    probability: float
    probabilities: Mapping[str, float]


@dataclass
class NaiveBayes:
    """Multinomial naive Bayes over :func:`grams`; ``as_dict``/``from_dict`` for the file."""

    examples: int = 0
    company: int = 0  # of ``examples``, how many are company examples (gateway/classify/seeds.py)
    docs: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    vocabulary: set[str] = field(default_factory=set)
    _cached: dict[str, tuple[float, dict[str, float], float]] | None = field(
        default=None, init=False, repr=False, compare=False)

    @classmethod
    def train(cls, examples: Iterable[tuple[MessageFacts, str]]) -> NaiveBayes:
        model = cls()
        for facts, label in examples:
            model.add(facts, label)
        return model

    @property
    def corrections(self) -> int:
        return self.examples - self.company

    @property
    def source(self) -> tuple[str, ...]:
        """What the model learned from, for the reasons, in English and zh-CN. The project's own
        corrections come first ("learned from 7 corrections", "and 350 company examples")."""
        if not self.company:
            return f"learned from {self.examples} corrections", f"学自 {self.examples} 次纠正"
        if not self.corrections:
            return (f"learned from {self.company} company examples",
                    f"学自 {self.company} 条公司样例")
        return (f"learned from {self.corrections} corrections",
                f"and {self.company} company examples",
                f"学自 {self.corrections} 次纠正和 {self.company} 条公司样例")

    def add(self, facts: MessageFacts, label: str, *, times: int = 1) -> None:
        """Learn one example, counted ``times`` times (a correction weighs more than a company
        example)."""
        self.examples += 1
        self._cached = None
        self.docs[label] = self.docs.get(label, 0) + times
        table = self.counts.setdefault(label, {})
        for gram, count in grams(facts).items():
            table[gram] = table.get(gram, 0) + count * times
            self.totals[label] = self.totals.get(label, 0) + count * times
            self.vocabulary.add(gram)

    def joined(self, other: NaiveBayes, *, times: int = 1) -> NaiveBayes:
        """A new model that knows this one's examples and ``other``'s, each of ``other``'s
        counted ``times`` times (this model is left as it is)."""
        docs, totals = dict(self.docs), dict(self.totals)
        counts = {label: dict(table) for label, table in self.counts.items()}
        for label, n in other.docs.items():
            docs[label] = docs.get(label, 0) + n * times
        for label, n in other.totals.items():
            totals[label] = totals.get(label, 0) + n * times
        for label, table in other.counts.items():
            mine = counts.setdefault(label, {})
            for gram, n in table.items():
                mine[gram] = mine.get(gram, 0) + n * times
        return NaiveBayes(examples=self.examples + other.examples,
                          company=self.company + other.company, docs=docs, totals=totals,
                          counts=counts, vocabulary=self.vocabulary | other.vocabulary)

    def predict(self, facts: MessageFacts) -> Prediction | None:
        """The most likely category with (tempered) probabilities; None: nothing learned."""
        probabilities = self.probabilities(facts)
        if probabilities is None:
            return None
        best = max(probabilities, key=lambda c: (probabilities[c], -_order(c)))
        return Prediction(_category(best), probabilities[best], probabilities)

    def probabilities(self, facts: MessageFacts) -> dict[str, float] | None:
        """Every label's (tempered) probability; None: nothing learned. The labels need not be
        categories (the company receipt model's are "true" and "false")."""
        if not self.docs:
            return None
        features = grams(facts)
        size = sum(features.values()) or 1
        logits: dict[str, float] = {}
        for label, (prior, logs, unseen) in self._logs().items():
            likelihood = sum(count * logs.get(gram, unseen) for gram, count in features.items())
            logits[label] = prior + TEMPERATURE * likelihood / size
        top = max(logits.values())
        weights = {label: math.exp(v - top) for label, v in logits.items()}
        norm = sum(weights.values())
        return {label: w / norm for label, w in weights.items()}

    def _logs(self) -> dict[str, tuple[float, dict[str, float], float]]:
        """Per label: log prior, log P(gram) of its grams, log P of an unseen gram — computed
        once per model (a company model is asked for every untagged message)."""
        if self._cached is None:
            vocab = len(self.vocabulary) or 1
            weighed = sum(self.docs.values())
            self._cached = {}
            for label, docs in self.docs.items():
                denominator = math.log(self.totals.get(label, 0) + ALPHA * vocab)
                logs = {gram: math.log(n + ALPHA) - denominator
                        for gram, n in self.counts.get(label, {}).items()}
                self._cached[label] = (math.log(docs / weighed), logs,
                                       math.log(ALPHA) - denominator)
        return self._cached

    def as_dict(self) -> dict[str, Any]:
        return {"version": MODEL_VERSION, "examples": self.examples, "docs": self.docs,
                "totals": self.totals, "counts": self.counts}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NaiveBayes:
        if data.get("version") != MODEL_VERSION:
            raise ValueError(f"unknown model version {data.get('version')!r}")
        counts = {str(k): {str(g): int(n) for g, n in v.items()}
                  for k, v in dict(data["counts"]).items()}
        return cls(examples=int(data["examples"]),
                   docs={str(k): int(v) for k, v in dict(data["docs"]).items()},
                   totals={str(k): int(v) for k, v in dict(data["totals"]).items()},
                   counts=counts,
                   vocabulary={g for table in counts.values() for g in table})


_ORDER: dict[str, int] = {c: i for i, c in enumerate(CATEGORIES)}


def _order(category: str) -> int:
    return _ORDER.get(category, len(CATEGORIES))


def _category(value: str) -> Category:
    for category in CATEGORIES:
        if category == value:
            return category
    return "general"


def consult(facts: MessageFacts, rule_category: Category, scores: Mapping[Category, float] | None,
            model: NaiveBayes | None, settings: LearningConfig,
            min_score: float) -> tuple[Category, tuple[Reason, ...]]:
    """The category after asking the model (see the module docs) and the reason saying what it
    did. ``scores`` is None when a header or a marker decided, or for a reply: the model is not
    asked."""
    if model is None or model.examples == 0:
        return rule_category, ()
    source = model.source
    if scores is None:
        return rule_category, (Reason("category", "learned:not asked",
                                      (*source, "a header, a marker or a reply: rules decide")),)
    if not model.company and model.examples < settings.min_corrections:
        return rule_category, (Reason("category", "learned:too few corrections",
                                      (*source, f"min_corrections={settings.min_corrections}")),)
    prediction = model.predict(facts)
    if prediction is None:
        return rule_category, ()
    said = f"{prediction.label} p={prediction.probability:.2f}"
    best = max(scores.values(), default=0.0)
    tied = _tied(scores, best, settings.tie_margin) if best >= min_score else []
    if len(tied) > 1:
        pick = max(tied, key=lambda c: (prediction.probabilities.get(c, 0.0), -_order(c)))
        rule = "learned:tie broken" if pick != rule_category else "learned:tie kept"
        return pick, (Reason("category", rule, (*source, said, "tied: " + ", ".join(tied)),
                             round(prediction.probabilities.get(pick, 0.0), 2)),)
    unsure = best < max(settings.low_score, min_score)
    if (unsure and prediction.label != rule_category
            and prediction.probability >= settings.confidence):
        return prediction.label, (Reason("category", "learned:low-confidence rules rescued",
                                         (*source, said, f"rule score {best:g}"),
                                         round(prediction.probability, 2)),)
    why = ("rules confident" if not unsure else "rules unsure, model agrees"
           if prediction.label == rule_category else "rules unsure, model not sure enough")
    return rule_category, (Reason("category", "learned:rules kept", (*source, said, why)),)


def _tied(scores: Mapping[Category, float], best: float, margin: float) -> list[Category]:
    return sorted((c for c, s in scores.items() if best - s < margin), key=_order)


def accuracy(pairs: Sequence[tuple[object, object]]) -> float:
    """The share of (expected, got) pairs that agree; 0.0 for none."""
    return sum(1 for a, b in pairs if a == b) / len(pairs) if pairs else 0.0


# the rules' receipt reasons that are only a default: an explicit marker or word is never undone
_RECEIPT_BY_DEFAULT = ("default:none", "category:receipt_categories")


def consult_receipt(facts: MessageFacts, value: bool, reasons: tuple[Reason, ...],
                    model: NaiveBayes, source: tuple[str, ...],
                    confidence: float) -> tuple[bool, tuple[Reason, ...]]:
    """Whether a receipt is required after asking the company receipt model (labels "true" and
    "false"): it changes only a decision the rules took by default (no marker, no receipt word)
    and only when it is at least ``confidence`` sure; ``source`` names what it learned from."""
    if not reasons or reasons[0].rule not in _RECEIPT_BY_DEFAULT:
        return value, reasons
    probabilities = model.probabilities(facts)
    if probabilities is None:
        return value, reasons
    wanted = probabilities.get("true", 0.0)
    sure = wanted if not value else 1.0 - wanted
    if sure < confidence:
        return value, reasons
    said = f"{str(not value).lower()} p={sure:.2f}"
    return not value, (*reasons, Reason("receipt_required", "learned:receipt changed",
                                        (*source, said), round(sure, 2)))
