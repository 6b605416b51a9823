"""The company examples (issue #22): every project's learned model starts from our own
labelled mail, and a project's corrections overrule it.

Given the labelled messages shipped in gateway/rules/examples.toml (the purpose set and held-out
sets 2–6, never set 7)
When a project with learning on classifies mail the rules are unsure of
Then the company model may rescue the decision (and a receipt decided only by default), says so
in its reasons, never touches tagged mail, gives way to the project's corrections, and is gone
when learning is off.
"""

from __future__ import annotations

from pathlib import Path

from gateway.classify.learn import NaiveBayes, consult_receipt
from gateway.classify.message import classify, facts_from_bytes
from gateway.classify.model import Reason
from gateway.classify.seeds import company_model, company_receipt_model, project_model
from gateway.config.settings import ProjectConfig
from gateway.records.corrections import model_for, model_path, save
from gateway.rules import company_examples
from tests.classify.conftest import FactsMaker
from tests.classify.purpose_set import (
    FIELDS,
    FOLDER,
    HELD_OUT,
    THRESHOLDS,
    UNTAGGED_CATEGORY,
    load,
)
from tests.classify.seed_examples import SHIPPED, SOURCES, from_fixtures, render

# a habit of this project the company examples get wrong: they read a card handed out as an
# incident (measured: p=0.81), the rules know nothing of it
CARD = ("门禁卡", "新的门禁卡已经到了，请到前台领取。")


def _with(project: ProjectConfig, **learning: object) -> ProjectConfig:
    return project.model_copy(update={"classify": project.classify.model_copy(update=learning)})


def test_the_shipped_examples_are_the_fixtures() -> None:
    assert SHIPPED.read_text(encoding="utf-8") == render(from_fixtures()), (
        "gateway/rules/examples.toml is out of date: python -m tests.classify.seed_examples")
    assert {folder.name for folder in SOURCES} == {"purpose", "heldout2", "heldout3",
                                                   "heldout4", "heldout5", "heldout6"}
    shipped = company_examples()
    assert len(shipped) == sum(len(load(folder)) for folder in (FOLDER, *HELD_OUT)) == 350
    assert not any(e.source.startswith("heldout7") for e in shipped)  # the unseen set
    assert shipped[0].labels == {"category": "directive", "stakeholder_group": "internal",
                                 "formality": "written", "urgency": "normal",
                                 "receipt_required": "true"}


def test_the_company_model_is_trained_once_and_knows_its_examples() -> None:
    model = company_model()
    assert model is company_model()  # cached: once per process, not per message
    assert (model.examples, model.company, model.corrections) == (350, 350, 0)
    assert set(model.docs) == {e.labels["category"] for e in company_examples()}


def test_it_rescues_an_unsure_rule_decision_and_says_so(facts: FactsMaker,
                                                        demo: ProjectConfig) -> None:
    probe = facts("关于下周机房巡检", "李娜，下周三前把三楼机房巡检一遍，发现问题及时记录。")
    got = classify(probe, demo, model=company_model())
    [said] = [r for r in got.reasons_for("category") if r.rule.startswith("learned:")]
    assert said.evidence[:2] == ("learned from 350 company examples", "学自 350 条公司样例")
    card = classify(facts(*CARD), demo, model=company_model())
    assert classify(facts(*CARD), demo).category == "general"
    assert card.category == "incident"
    [rescued] = [r for r in card.reasons_for("category") if r.rule.startswith("learned:")]
    assert rescued.rule == "learned:low-confidence rules rescued"


def test_a_projects_corrections_overrule_the_company_examples(facts: FactsMaker,
                                                              demo: ProjectConfig) -> None:
    corrections = NaiveBayes.train([(facts(f"门禁卡 {i}", "门禁卡到了，请到前台领取。"), "general")
                                    for i in range(2)])
    model = project_model(corrections, demo.classify)
    assert model is not None and (model.company, model.corrections) == (350, 2)
    got = classify(facts(*CARD), demo, model=model)
    assert got.category == "general"
    [said] = [r for r in got.reasons_for("category") if r.rule.startswith("learned:")]
    assert said.evidence[:3] == ("learned from 2 corrections", "and 350 company examples",
                                 "学自 2 次纠正和 350 条公司样例")


def test_tagged_mail_stays_exactly_as_the_rules_decide(demo: ProjectConfig) -> None:
    tagged = [i for folder in (FOLDER, *HELD_OUT) for i in load(folder) if i.tagged]
    assert len(tagged) >= 80
    for item in tagged:
        facts = facts_from_bytes(item.raw)
        plain, learned = classify(facts, demo), classify(facts, demo, model=company_model())
        assert learned.as_dict() | {"reasons": []} == plain.as_dict() | {"reasons": []}, (
            item.subject)
        rules = tuple(r for r in learned.reasons if not r.rule.startswith("learned:"))
        assert rules == plain.reasons, item.subject


def test_learning_off_is_the_rules_alone(tmp_path: Path, facts: FactsMaker,
                                         demo: ProjectConfig) -> None:
    off = _with(demo, learn=False)
    assert model_for(tmp_path, off) is None and project_model(None, off.classify) is None
    probe = facts(*CARD)
    assert classify(probe, off, model=company_model()) == classify(probe, demo)
    # company examples off: only the project's own corrections, none yet = the rules alone
    own = _with(demo, company_examples=False)
    assert model_for(tmp_path, own) is None


def test_model_for_joins_the_file_once_per_change(tmp_path: Path, facts: FactsMaker,
                                                  demo: ProjectConfig) -> None:
    project = demo.model_copy(update={"code": "seedtest"})
    assert model_for(tmp_path, project) is company_model()  # no corrections yet
    save(NaiveBayes.train([(facts(*CARD), "general")]), model_path(tmp_path, project.code))
    joined = model_for(tmp_path, project)
    assert joined is not None and (joined.company, joined.corrections) == (350, 1)
    assert model_for(tmp_path, project) is joined  # not joined again per message
    alone = model_for(tmp_path, _with(project, company_examples=False))
    assert alone is not None and (alone.company, alone.corrections) == (0, 1)


def test_a_receipt_decided_only_by_default_may_be_changed(facts: FactsMaker) -> None:
    probe = facts("机柜整理", "机柜里的线缆周五前整理好。")
    model, source = company_receipt_model(), company_model().source
    default = (Reason("receipt_required", "default:none"),)
    value, reasons = consult_receipt(probe, False, default, model, source, 0.9)
    assert value is True
    assert reasons[-1].rule == "learned:receipt changed"
    assert reasons[-1].evidence[:2] == ("learned from 350 company examples", "学自 350 条公司样例")
    # an explicit word (or a marker) is never undone, nor is an unsure model heard
    asked = (Reason("receipt_required", "word:receipt:请回复确认", ("请回复确认",), 1.0),)
    assert consult_receipt(probe, True, asked, model, source, 0.9) == (True, asked)
    assert consult_receipt(probe, False, default, model, source, 1.0) == (False, default)


def test_the_labelled_sets_keep_their_thresholds_with_the_company_examples(
        demo: ProjectConfig) -> None:
    # what the pipeline does for a project with no corrections; the examples are these sets,
    # so this is no measure of unseen mail (README: set 7), only a guard against harm
    items = [i for folder in (FOLDER, *HELD_OUT) for i in load(folder)]
    got = [classify(facts_from_bytes(i.raw), demo, model=company_model()) for i in items]
    for field in FIELDS:
        right = sum(getattr(g, field) == i.expected[field] for i, g in zip(items, got, strict=True))
        assert right / len(items) >= THRESHOLDS[field], field
    untagged = [(i, g) for i, g in zip(items, got, strict=True) if not i.tagged]
    right = sum(g.category == i.expected["category"] for i, g in untagged)
    assert right / len(untagged) >= UNTAGGED_CATEGORY
