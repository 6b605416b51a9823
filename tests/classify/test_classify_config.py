"""Rules are data: a project adds its own words in TOML; the defaults ship with the package."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.classify.message import classify
from gateway.classify.rules import merge, rules_for
from gateway.config.classify import ClassificationConfig
from gateway.config.settings import ProjectConfig
from gateway.rules import default_rules
from tests.classify.conftest import FactsMaker

SECTION = """
[classification]
incident_reply_minutes = 30
disabled_rules = ["incident:告警"]

[[classification.markers]]
tag = "【割接】"
category = "change_notice"

[[classification.keywords]]
category = "incident"
pattern = "核心交换机.{0,6}(掉线|宕机)"
regex = true
weight = 3.0
name = "demo:core switch down"
"""


def _with_section(demo: ProjectConfig, toml: str) -> ProjectConfig:
    data: dict[str, Any] = demo.model_dump()
    data.update(tomllib.loads(toml))
    return ProjectConfig.model_validate(data)


def test_the_defaults_load_from_the_package() -> None:
    rules = default_rules()
    assert len(rules.keywords) > 50 and len(rules.markers) > 30
    assert rules.category_header == "X-Commgate-Category"


def test_a_project_adds_markers_and_words_without_python(demo: ProjectConfig,
                                                         facts: FactsMaker) -> None:
    project = _with_section(demo, SECTION)
    assert classify(facts("【割接】今晚", "按计划进行"), project).category == "change_notice"
    got = classify(facts("机房", "核心交换机突然掉线了"), project)
    assert got.category == "incident"
    assert any(r.rule == "keyword:demo:core switch down" for r in got.reasons)
    # the defaults are still there, the disabled rule is not
    assert classify(facts("【指令】x", ""), project).category == "directive"
    assert classify(facts("告警", "告警告警"), project).category == "general"


def test_a_project_setting_replaces_the_default_and_lists_append(demo: ProjectConfig) -> None:
    merged = merge(default_rules(), _with_section(demo, SECTION).classification)
    assert merged.incident_reply_minutes == 30
    assert merged.min_score == default_rules().min_score
    assert len(merged.markers) == len(default_rules().markers) + 1


def test_a_project_can_drop_the_defaults(demo: ProjectConfig, facts: FactsMaker) -> None:
    project = _with_section(demo, "[classification]\nuse_default_rules = false\n")
    assert classify(facts("【指令】务必完成", "务必"), project).category == "general"


def test_receipt_categories_are_per_project(demo: ProjectConfig, facts: FactsMaker) -> None:
    project = _with_section(demo, '[classification]\nreceipt_categories = ["directive"]\n')
    assert not classify(facts("【决策】x", ""), project).receipt_required
    assert classify(facts("【决策】x", ""), demo).receipt_required


@pytest.mark.parametrize("bad", [
    {"keywords": [{"category": "incident", "pattern": "(", "regex": True}]},
    {"keywords": [{"category": "nonsense", "pattern": "x"}]},
    {"markers": [{"tag": "【】", "category": "directive"}]},
    {"markers": [{"tag": "x"}]},
    {"unknown_key": 1},
])
def test_mistakes_in_the_section_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ClassificationConfig.model_validate(bad)


def test_rules_are_compiled_once_per_configuration(demo: ProjectConfig) -> None:
    assert rules_for(demo.classification) is rules_for(demo.classification)
