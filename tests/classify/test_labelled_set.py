"""The labelled set: every field of every message, read through the parse stage.

Given the ``.eml`` files and ``labels.json`` in tests/fixtures/classify
When each message is classified for the demo project
Then every field reaches the accuracy floor, and the core subset is exactly right.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from gateway.classify.message import classify, facts_from_bytes
from gateway.classify.model import Classification
from gateway.config.settings import load_project
from tests.classify.conftest import DEMO, FIXTURES

FIELDS = ("category", "stakeholder_group", "formality", "urgency", "receipt_required")
FLOOR = 0.93  # measured 95.5–100 % per field (12 messages were added untuned, see docs)
LABELS: dict[str, dict[str, Any]] = json.loads(
    (FIXTURES / "labels.json").read_text(encoding="utf-8"))
CORE = sorted(name for name, label in LABELS.items() if label.get("core"))


@cache
def _classified(name: str) -> Classification:
    return classify(facts_from_bytes((FIXTURES / name).read_bytes()), load_project(DEMO))


def test_the_set_is_large_and_covers_every_value() -> None:
    assert len(LABELS) >= 60
    seen = {field: {str(label[field]) for label in LABELS.values()} for field in FIELDS}
    assert len(seen["category"]) == 10
    assert seen["stakeholder_group"] >= {"customer", "leadership", "internal", "procurement",
                                         "quality", "hr", "other"}
    assert seen["formality"] == {"formal_written", "written", "formal_oral", "informal_oral"}
    assert seen["urgency"] == {"normal", "urgent"}
    assert len(CORE) >= 20


@pytest.mark.parametrize("field", FIELDS)
def test_each_field_reaches_the_floor(field: str) -> None:
    wrong = [(name, label[field], getattr(_classified(name), field))
             for name, label in LABELS.items()
             if getattr(_classified(name), field) != label[field]]
    accuracy = 1 - len(wrong) / len(LABELS)
    assert accuracy >= FLOOR, f"{field}: {accuracy:.1%}, wrong: {wrong}"


@pytest.mark.parametrize("name", CORE)
def test_core_message_is_exactly_right(name: str) -> None:
    got = _classified(name)
    expected = {field: LABELS[name][field] for field in FIELDS}
    assert {field: getattr(got, field) for field in FIELDS} == expected, got.reasons


@pytest.mark.parametrize("name", sorted(LABELS))
def test_every_decision_gives_its_reasons(name: str) -> None:
    got = _classified(name)
    for field in FIELDS:
        assert got.reasons_for(field), f"{name}: no reason for {field}"
