"""Machine-written mail: auto-replies (RFC 3834), bounces (RFC 3464 and prose), MDNs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.parse import ParsedMessage, parse_message

Load = Callable[[str], ParsedMessage]


def _mail(headers: str, body: str = "hello") -> ParsedMessage:
    return parse_message(f"From: a@example.cn\r\n{headers}\r\n\r\n{body}".encode())


def test_chinese_out_of_office_with_auto_submitted(mail: Load) -> None:
    parsed = mail("autoreply_zh.eml")
    assert parsed.auto_reply
    assert parsed.auto_reply_reason == "Auto-Submitted: auto-replied"


@pytest.mark.parametrize("headers", [
    "Auto-Submitted: auto-generated", "Precedence: bulk", "Precedence: list", "Precedence: junk",
    "X-Autoreply: yes", "X-Autorespond: on vacation", "Subject: 自动回复: 会议",
    "Subject: Automatic reply: meeting", "Subject: Out of Office: back Monday",
    "Subject: Auto: plan", "Subject: 休假中", "Subject: 休假: 11月30日返回",
])
def test_automated_mail_is_recognised(headers: str) -> None:
    assert _mail(headers).auto_reply


@pytest.mark.parametrize("headers", [
    "Auto-Submitted: no", "X-Auto-Response-Suppress: All\r\nSubject: Re: plan",
    "Subject: 关于明年休假安排的讨论", "Subject: Automated backup report discussion",
])
def test_human_mail_is_not_flagged(headers: str) -> None:
    assert not _mail(headers).auto_reply


def test_x_auto_response_suppress_alone_is_a_request_not_proof(mail: Load) -> None:
    assert not mail("human_with_suppress.eml").auto_reply


def test_dsn_bounce_lists_failed_and_delayed_recipients(mail: Load) -> None:
    parsed = mail("bounce_dsn.eml")
    assert parsed.bounce is not None
    assert parsed.bounce.failed_recipients == ["nosuchuser@client.example.cn",
                                               "slow@busy.example.net"]
    assert parsed.bounce.permanent
    assert parsed.bounce.status == "5.1.1"
    assert parsed.bounce.original_message_id == "20261120100000.BNC1@example-om.cn"
    assert parsed.auto_reply


def test_only_delayed_dsn_is_temporary() -> None:
    raw = (b"From: MAILER-DAEMON@mx.example.cn\r\nContent-Type: multipart/report; "
           b'report-type=delivery-status; boundary="d"\r\n\r\n'
           b"--d\r\nContent-Type: text/plain\r\n\r\ndelayed\r\n"
           b"--d\r\nContent-Type: message/delivery-status\r\n\r\n"
           b"Reporting-MTA: dns; x\r\n\r\n"
           b"Final-Recipient: rfc822; late@example.net\r\nAction: delayed\r\nStatus: 4.4.7\r\n"
           b"\r\n--d--\r\n")
    bounce = parse_message(raw).bounce
    assert bounce is not None and bounce.failed_recipients == ["late@example.net"]
    assert not bounce.permanent


def test_chinese_prose_bounce_from_postmaster(mail: Load) -> None:
    bounce = mail("bounce_cn_prose.eml").bounce
    assert bounce is not None and not bounce.standard
    assert bounce.failed_recipients == ["wuhao@client.example.cn"]


def test_mdn_names_the_original_message(mail: Load) -> None:
    parsed = mail("mdn_read.eml")
    assert parsed.mdn is not None
    assert parsed.mdn.original_message_id == "20261120100000.A9B8@example-om.cn"
    assert parsed.mdn.disposition == "manual-action/MDN-sent-manually; displayed"
    assert parsed.bounce is None
    assert parsed.auto_reply


@pytest.mark.parametrize("subject", [
    "Re: 自动回复: 【会议纪要】周例会", "回复：Automatic reply: 巡检", "答复: 自动回复：会议",
    "RE: Out of Office: back Monday", "【自动回复】核心交换机巡检", "[Auto-Reply] plan",
    "AW: Abwesenheitsnotiz: Plan", "回复: 回复: 休假中",
])
def test_an_auto_reply_prefix_counts_after_reply_prefixes(subject: str) -> None:
    assert _mail(f"Subject: {subject}").auto_reply, subject


@pytest.mark.parametrize("subject", [
    # issue 16: a directive *about* auto-replies is a directive, not an auto-reply
    "【指令】今晚关闭客户邮箱的自动回复功能", "Re: 【指令】今晚关闭客户邮箱的自动回复功能",
    "请检查 out of office 设置", "关于自动回复规则的会议纪要", "Please disable the auto-reply rule",
    "Fwd: 自动回复: 会议",  # a person forwards an auto-reply: the forward is theirs
])
def test_an_auto_reply_word_elsewhere_in_the_subject_is_human_mail(subject: str) -> None:
    assert not _mail(f"Subject: {subject}").auto_reply, subject
