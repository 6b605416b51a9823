"""Stories of single decisions, told with hand-built facts (no MIME, no parser)."""

from __future__ import annotations

from gateway.classify.message import classify
from gateway.config.settings import ProjectConfig
from tests.classify.conftest import (
    CLIENT,
    DEPT_MANAGER,
    ENGINEER,
    PM,
    PROJECT_ADDRESS,
    FactsMaker,
)

SUPPLIER = "sales@supplier.example.com"
STRANGER = "someone@unknown-vendor.com"
COLLEAGUE = "zhaolei@xdyj.example.com"  # company address, not in the directory


# --- stakeholder group --------------------------------------------------------------------


def test_team_only_mail_is_internal(facts: FactsMaker, demo: ProjectConfig) -> None:
    assert classify(facts("今晚值班", "好的"), demo).stakeholder_group == "internal"


def test_a_client_party_makes_the_record_a_customer_record(facts: FactsMaker,
                                                           demo: ProjectConfig) -> None:
    got = classify(facts("x", "y", to=(ENGINEER,), cc=(CLIENT, "sunzong@xdyj.example.com")), demo)
    assert got.stakeholder_group == "customer"  # customer outranks leadership


def test_client_domain_counts_even_for_unlisted_people(facts: FactsMaker,
                                                       demo: ProjectConfig) -> None:
    got = classify(facts("x", "y", sender="new.person@client.example.cn"), demo)
    assert got.stakeholder_group == "customer"


def test_dept_manager_is_leadership_as_any_party_but_the_sender(facts: FactsMaker,
                                                                 demo: ProjectConfig) -> None:
    assert classify(facts("x", "y", to=(DEPT_MANAGER,)), demo).stakeholder_group == "leadership"
    # a copy to the manager is reporting upwards too (issue #22); their own mail is internal
    copied = classify(facts("x", "y", cc=(DEPT_MANAGER,)), demo)
    assert copied.stakeholder_group == "leadership"
    assert any("in cc" in r.rule for r in copied.reasons_for("stakeholder_group"))
    assert classify(facts("x", "y", sender=DEPT_MANAGER, to=(PM,)),
                    demo).stakeholder_group == "internal"


def test_leadership_outranks_procurement(facts: FactsMaker, demo: ProjectConfig) -> None:
    got = classify(facts("备件", "到货时间？", to=("zhoumin@xdyj.example.com",),
                         cc=(DEPT_MANAGER, PROJECT_ADDRESS)), demo)
    assert got.stakeholder_group == "leadership"


def test_department_interface_persons_give_their_department(facts: FactsMaker,
                                                            demo: ProjectConfig) -> None:
    for address, group in (("zhoumin@xdyj.example.com", "procurement"),
                           ("wulei@xdyj.example.com", "quality"),
                           ("zhengli@xdyj.example.com", "hr")):
        assert classify(facts("x", "y", to=(address,)), demo).stakeholder_group == group


def test_unknown_outsiders_are_other_and_company_colleagues_internal(
        facts: FactsMaker, demo: ProjectConfig) -> None:
    assert classify(facts("x", "y", sender=STRANGER), demo).stakeholder_group == "other"
    assert classify(facts("x", "y", sender=SUPPLIER), demo).stakeholder_group == "other"
    assert classify(facts("x", "y", sender=COLLEAGUE), demo).stakeholder_group == "internal"


def test_gateway_addresses_and_reply_tokens_are_not_parties(facts: FactsMaker,
                                                            demo: ProjectConfig) -> None:
    got = classify(facts("x", "y", to=("proj-demo+r-abc123@gw.example.com",),
                         cc=(PROJECT_ADDRESS,)), demo)
    assert got.stakeholder_group == "internal"


# --- category ------------------------------------------------------------------------------


def test_a_subject_marker_beats_the_words(facts: FactsMaker, demo: ProjectConfig) -> None:
    got = classify(facts("【决策】机房宕机后的处理", "经研究决定，故障设备全部更换。"), demo)
    assert got.category == "decision"
    assert got.reasons_for("category")[0].rule == "marker:决策"


def test_markers_match_any_bracket_and_case(facts: FactsMaker, demo: ProjectConfig) -> None:
    subjects = ("[directive] renew certs", "［指令］换证书", "〔指令〕换证书", "【 指令 】换证书")
    for subject in subjects:
        assert classify(facts(subject, ""), demo).category == "directive", subject


def test_the_category_header_beats_markers(facts: FactsMaker, demo: ProjectConfig) -> None:
    got = classify(facts("【指令】x", "", headers={"X-Commgate-Category": "report"}), demo)
    assert got.category == "report"
    bad = classify(facts("【指令】x", "", headers={"X-Commgate-Category": "nonsense"}), demo)
    assert bad.category == "directive"


def test_urgent_alone_is_urgency_not_a_category(facts: FactsMaker, demo: ProjectConfig) -> None:
    got = classify(facts("【紧急】请问明天能开会吗？", "请问明天下午能开会吗？"), demo)
    assert (got.category, got.urgency) == ("inquiry", "urgent")
    plain = classify(facts("【紧急】", "午饭"), demo)
    assert (plain.category, plain.urgency) == ("general", "urgent")


def test_untagged_schedule_slip_to_the_client_is_a_change_notice(facts: FactsMaker,
                                                                 demo: ProjectConfig) -> None:
    text = "黄经理：由于设备到货晚了，上线时间需要推迟一周，对业务没有影响。"
    got = classify(facts("上线时间", text, to=(CLIENT,)), demo)
    assert (got.category, got.receipt_required, got.formality) == (
        "change_notice", True, "formal_written")


def test_the_same_slip_told_to_the_dept_manager_is_a_risk(facts: FactsMaker,
                                                          demo: ProjectConfig) -> None:
    got = classify(facts("二期进度", "二期上线可能延期一周。", to=(DEPT_MANAGER,)), demo)
    assert (got.category, got.stakeholder_group, got.receipt_required) == (
        "risk", "leadership", False)


def test_negated_words_do_not_count(facts: FactsMaker, demo: ProjectConfig) -> None:
    assert classify(facts("巡检", "今天巡检没有发现故障，一切正常。"), demo).category == "general"
    got = classify(facts("status", "There is no outage and it is not urgent."), demo)
    assert (got.category, got.urgency) == ("general", "normal")


def test_ascii_words_match_whole_words_only(facts: FactsMaker, demo: ProjectConfig) -> None:
    got = classify(facts("AP10 config", "The AP10 access points are mustard yellow."), demo)
    assert (got.category, got.urgency) == ("general", "normal")


def test_a_reply_does_not_inherit_the_original_tags(facts: FactsMaker,
                                                    demo: ProjectConfig) -> None:
    got = classify(facts("Re: 【紧急】【指令】今晚排查UPS", "收到，马上去。"), demo)
    assert (got.category, got.urgency, got.receipt_required) == ("general", "normal", False)
    assert got.reasons_for("category")[0].rule == "reply:subject ignored"


def test_weak_evidence_stays_general(facts: FactsMaker, demo: ProjectConfig) -> None:
    got = classify(facts("周五聚餐", "周五晚上聚餐，地点另行安排。"), demo)
    assert got.category == "general"
    assert got.reasons_for("category")[0].rule == "score:below min_score"


# --- urgency, formality, receipt -----------------------------------------------------------


def test_an_incident_is_urgent_only_when_the_message_says_so(facts: FactsMaker,
                                                               demo: ProjectConfig) -> None:
    got = classify(facts("【故障】核心交换机", "已恢复"), demo)
    assert (got.category, got.urgency) == ("incident", "normal")
    assert got.reasons_for("urgency")[0].rule == "default:normal"
    assert classify(facts("【故障】核心交换机", "紧急，请立即处理"), demo).urgency == "urgent"


def test_formal_documents_by_attachment_name(facts: FactsMaker, demo: ProjectConfig) -> None:
    got = classify(facts("附件", "请查收", attachments=("运维服务合同.pdf",)), demo)
    assert got.formality == "formal_written"
    assert classify(facts("附件", "请查收", attachments=("photo.jpg",)), demo).formality == (
        "written")


def test_notes_of_calls_and_meetings_are_oral(facts: FactsMaker, demo: ProjectConfig) -> None:
    assert classify(facts("【电话记录】与客户沟通", "确认时间"), demo).formality == (
        "informal_oral")
    # 【回访】 is a follow-up phone call (issue #22)
    assert classify(facts("【回访】季度回访", "客户满意"), demo).formality == "informal_oral"
    minutes = classify(facts("【会议记录】评审会", "参会人员：张伟、李娜。会议结论：通过。"), demo)
    assert (minutes.category, minutes.formality) == ("meeting_minutes", "formal_oral")


def test_explicit_confirmation_request_needs_a_receipt(facts: FactsMaker,
                                                       demo: ProjectConfig) -> None:
    assert classify(facts("值班表", "附件是值班表，请回复确认。"), demo).receipt_required
    assert classify(facts("rota", "Please confirm you got it."), demo).receipt_required
    assert not classify(facts("[FYI] 指令说明", "请确认"), demo).receipt_required
    assert not classify(facts("值班表", "附件是值班表。"), demo).receipt_required
