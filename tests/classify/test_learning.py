"""Learning from corrections (issue #22): the model only breaks ties and rescues unsure rules.

Given a naive Bayes model trained on a few corrected messages
When a message is classified with it
Then it decides only where the rules are unsure, never over a marker, and says so in reasons.
"""

from __future__ import annotations

from gateway.classify.learn import NaiveBayes, consult, grams
from gateway.classify.message import classify
from gateway.classify.model import MessageFacts
from gateway.config.settings import ProjectConfig
from tests.classify.conftest import FactsMaker

ENV = ("机房环境数据", "温度22度，湿度45%，UPS负载30%，空调运行正常。")


def _model(facts: FactsMaker, copies: int = 6) -> NaiveBayes:
    examples = [(facts(f"{ENV[0]} {i}", ENV[1]), "report") for i in range(copies)]
    examples += [(facts(f"午饭订餐 {i}", "今天中午订的盒饭到了，在前台自取。"), "general")
                 for i in range(copies)]
    return NaiveBayes.train(examples)


def test_grams_read_subject_twice_and_skip_quoted_words() -> None:
    got = grams(MessageFacts(subject="ab", sender="x@y.z", own_text="“zz” b"))
    assert got["a"] == 2 and got["b"] == 3 and "z" not in got


def test_the_model_predicts_what_it_was_taught(facts: FactsMaker) -> None:
    prediction = _model(facts).predict(facts("机房环境数据（周三）", "温度23度，湿度50%"))
    assert prediction is not None and prediction.label == "report"
    assert prediction.probability > 0.6


def test_it_survives_its_file_form(facts: FactsMaker) -> None:
    model = _model(facts)
    again = NaiveBayes.from_dict(model.as_dict())
    probe = facts("机房环境数据", "湿度")
    assert again.predict(probe) == model.predict(probe)


def test_a_low_confidence_rule_decision_is_rescued(facts: FactsMaker,
                                                   demo: ProjectConfig) -> None:
    probe = facts("机房环境数据（周三）", "温度23度，湿度50%，UPS负载31%。")
    assert classify(probe, demo).category == "general"  # no rule knows this project's habit
    got = classify(probe, demo, model=_model(facts))
    assert (got.category, got.formality) == ("report", "formal_written")  # the rest follows
    [said] = [r for r in got.reasons_for("category") if r.rule.startswith("learned:")]
    assert said.rule == "learned:low-confidence rules rescued"
    assert said.evidence[0] == "learned from 12 corrections"


def test_confident_rules_and_markers_are_not_overruled(facts: FactsMaker,
                                                       demo: ProjectConfig) -> None:
    model = _model(facts)
    marked = classify(facts("【指令】机房环境数据", "温度"), demo, model=model)
    assert marked.category == "directive"
    assert [r.rule for r in marked.reasons_for("category")][-1] == "learned:not asked"
    sure = classify(facts("机房环境数据", "核心交换机宕机，业务中断，无法访问。"), demo,
                    model=model)
    assert sure.category == "incident"
    assert "learned:rules kept" in [r.rule for r in sure.reasons_for("category")]


def test_a_tie_is_broken_by_the_model(facts: FactsMaker, demo: ProjectConfig) -> None:
    model = NaiveBayes.train([(facts(f"请问{i}", "想了解一下进度"), "inquiry") for i in range(5)])
    scores = {"directive": 2.5, "inquiry": 2.5}
    category, reasons = consult(facts("请问", "想了解"), "directive", scores, model,
                                demo.classify, 2.0)
    assert category == "inquiry" and reasons[0].rule == "learned:tie broken"


def test_too_few_corrections_or_learning_off_leave_the_rules_alone(
        facts: FactsMaker, demo: ProjectConfig) -> None:
    probe = facts("机房环境数据（周三）", "温度23度")
    few = classify(probe, demo, model=_model(facts, copies=2))
    assert few.category == "general"
    assert "learned:too few corrections" in [r.rule for r in few.reasons_for("category")]
    off = demo.model_copy(update={"classify": demo.classify.model_copy(update={"learn": False})})
    got = classify(probe, off, model=_model(facts))
    assert got.category == "general"
    assert not [r for r in got.reasons if r.rule.startswith("learned:")]
