"""The held-out sets (issue #22): mail written after the rules, kept as regression sets.

Given tests/fixtures/classify/heldout2 … heldout6, each written before the rules
were changed for it and measured once (the first figures are in README)
When each message is read through the parse stage and classified for the demo project
Then, over the sets together, each field keeps the accuracy the issue asks for.
"""

from __future__ import annotations

from functools import cache

import pytest

from gateway.classify.message import classify, facts_from_bytes
from gateway.classify.model import Classification
from gateway.config.settings import load_project
from tests.classify.conftest import DEMO
from tests.classify.purpose_set import (
    FIELDS,
    HELD_OUT,
    THRESHOLDS,
    UNTAGGED_CATEGORY,
    Labelled,
    load,
)


@cache
def _items() -> tuple[tuple[Labelled, Classification], ...]:
    project = load_project(DEMO)
    return tuple((item, classify(facts_from_bytes(item.raw), project))
                 for folder in HELD_OUT for item in load(folder))


def _accuracy(pairs: list[tuple[Labelled, Classification]], field: str) -> tuple[float, list[str]]:
    wrong = [f"{item.subject}: {item.expected[field]} ≠ {getattr(got, field)}"
             for item, got in pairs if getattr(got, field) != item.expected[field]]
    return 1 - len(wrong) / len(pairs), wrong


def test_the_sets_are_large_mostly_untagged_and_bilingual() -> None:
    items = [item for item, _ in _items()]
    untagged = [i for i in items if not i.tagged]
    assert len(items) >= 65
    assert len(untagged) > len(items) - len(untagged)
    assert 0 < sum(1 for i in untagged if i.chinese) < len(untagged)


@pytest.mark.parametrize("field", FIELDS)
def test_each_field_reaches_the_issue_threshold(field: str) -> None:
    accuracy, wrong = _accuracy(list(_items()), field)
    assert accuracy >= THRESHOLDS[field], f"{field}: {accuracy:.1%}, wrong: {wrong}"


def test_untagged_held_out_mail_is_classified_by_its_purpose() -> None:
    accuracy, wrong = _accuracy([p for p in _items() if not p[0].tagged], "category")
    assert accuracy >= UNTAGGED_CATEGORY, f"untagged category: {accuracy:.1%}, wrong: {wrong}"


def test_every_decision_is_explained() -> None:
    for item, got in _items():
        assert all(got.reasons_for(field) for field in FIELDS), item.subject
