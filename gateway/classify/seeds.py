"""The company examples as a model: what every project's learned model starts from (issue #22).

The labelled messages shipped in ``gateway/rules/examples.toml`` train one naive Bayes model
per process (:func:`company_model`, cached). A project's model (:func:`project_model`) is that
model joined with the model of the project's own corrections (gateway/records/corrections.py),
each correction counted ``correction_weight`` times so that a project overrules the company
where its mail differs. ``[classify] learn = false`` turns both off (the rules alone decide);
``company_examples = false`` leaves only the project's corrections.

The company examples also say whether a receipt was required (:func:`company_receipt_model`):
where a project's model holds company examples, that model may change a receipt decision the
rules took only by default (no marker, no receipt word) when it is ``receipt_confidence`` sure.
Corrections do not teach it (the project's model file holds categories only).
"""

from __future__ import annotations

from functools import cache

from gateway.classify.decide import is_reply
from gateway.classify.learn import NaiveBayes
from gateway.classify.model import MessageFacts
from gateway.config.classify import LearningConfig
from gateway.rules import CompanyExample, company_examples


def example_facts(example: CompanyExample) -> MessageFacts:
    """What the model reads of an example: as of a message, a reply's subject left out (it
    belongs to the original, gateway/classify/message.py)."""
    subject = "" if is_reply(example.subject) else example.subject
    return MessageFacts(subject=subject, sender="", own_text=example.body)


def _trained(field: str) -> NaiveBayes:
    model = NaiveBayes()
    for example in company_examples():
        model.add(example_facts(example), example.labels[field])
    model.company = model.examples
    return model


@cache
def company_model() -> NaiveBayes:
    """The model of the shipped company examples (trained once per process)."""
    return _trained("category")


@cache
def company_receipt_model() -> NaiveBayes:
    """Whether the company examples required a receipt ("true"/"false"), as a model: asked
    for mail whose receipt the rules decided only by default (gateway/classify/learn.py)."""
    return _trained("receipt_required")


def project_model(corrections: NaiveBayes | None,
                  settings: LearningConfig) -> NaiveBayes | None:
    """The model a project classifies with: None when learning is off, else the company model
    (when on) joined with the project's ``corrections`` model (when it has one)."""
    if not settings.learn:
        return None
    if not settings.company_examples:
        return corrections
    if corrections is None or corrections.examples == 0:
        return company_model()
    return company_model().joined(corrections, times=settings.correction_weight)
