"""Replies from the clients our users actually use, read the way the receipts stage needs them."""

from __future__ import annotations

from collections.abc import Callable

from gateway.parse import ParsedMessage

Load = Callable[[str], ParsedMessage]


def test_foxmail_reply_in_gbk_labelled_gb2312_keeps_every_character(mail: Load) -> None:
    # Given a Foxmail reply whose "gb2312" body contains 镕 (GBK only)
    parsed = mail("foxmail_reply_gbk.eml")
    # Then the text decodes fully and the reply is cut at the Foxmail "Original" separator
    assert parsed.own_text == "好的，朱镕基路机房的割接方案已收到，我们按计划周六晚执行。"
    assert parsed.signature == "王强"
    assert parsed.quoted_text.startswith("------------------ Original ------------------")
    assert parsed.from_name == "王强"
    assert parsed.subject == "回复：【指令】机房割接方案"
    assert parsed.in_reply_to == ["20261120100000.A1B2@example-om.cn"]


def test_qq_mail_reply_with_nbsp_separator_and_b_r_sign_off(mail: Load) -> None:
    parsed = mail("qqmail_reply.eml")
    assert parsed.own_text == "已确认，周五前提交变更单。"
    assert parsed.signature == "B.R"
    assert "原始邮件" in parsed.quoted_text and "请于周五前确认" in parsed.quoted_text
    assert parsed.to == [("张伟", "zhangwei@example-om.cn")]
    assert parsed.cc == [("proj-demo", "proj-demo@gw.example.cn")]


def test_netease_raw_8bit_gbk_body_with_xie_dao_attribution(mail: Load) -> None:
    parsed = mail("netease_reply_8bit.eml")
    assert parsed.own_text == "明白，按新的排期执行。"
    assert parsed.signature == "发自网易邮箱大师"
    assert parsed.quoted_text.startswith('在 2026-11-20 10:00:00，"张伟"')
    assert parsed.references == ["20261120090000.0001@example-om.cn",
                                 "20261120100000.E5F6@example-om.cn"]


def test_outlook_zh_reply_exposes_thread_fields_and_cuts_fa_jian_ren_block(mail: Load) -> None:
    parsed = mail("outlook_zh_reply.eml")
    # The subject's encoded-words split one GBK character in two: still decoded whole.
    assert parsed.subject == "答复: 【指令】请于周五前完成巡检报告"
    assert parsed.thread_topic == "【指令】请于周五前完成巡检报告"
    assert parsed.thread_index == "AQHbO1x2c3RhdGVzAAAAAAAAAAAAAA=="
    assert parsed.own_text == "收到，周五前完成。"
    assert parsed.signature.startswith("孙磊")
    assert parsed.quoted_text.startswith("_____")
    assert parsed.from_addr == "sunlei@client.example.cn"
    assert parsed.authentication_results[0].startswith("gw.example.cn; dkim=pass")
    assert parsed.date is not None and parsed.date.utcoffset() is not None
    # Outlook puts X-Auto-Response-Suppress on ordinary mail: a request, not an auto-reply.
    assert parsed.auto_reply is False


def test_iphone_reply_drops_mobile_signature_and_yu_xie_dao_quote(mail: Load) -> None:
    parsed = mail("iphone_reply.eml")
    assert parsed.own_text == "好的，明白了"
    assert parsed.signature == "发自我的iPhone"
    assert "今晚22:00开始维护窗口" in parsed.quoted_text


def test_big5_body_and_iso_2022_jp_subject_without_message_id(mail: Load) -> None:
    parsed = mail("no_message_id_big5.eml")
    assert parsed.text == "已收到，會議改期到下週。"
    assert parsed.subject == "確認しました"
    assert parsed.message_id_synthetic
    assert parsed.message_id.endswith("@synthetic.commgate.invalid")
    assert parsed.message_id == mail("no_message_id_big5.eml").message_id  # stable
