"""Reply splitting on inline bodies: each client's quote header, signatures, inline answers."""

from __future__ import annotations

import pytest

from gateway.parse import split_reply

QUOTE_HEADERS = {
    "outlook en": "-----Original Message-----\nFrom: Zhang Wei\nSent: Friday\nTo: Li\n",
    "outlook en block": "From: Zhang Wei <zw@example.cn>\nSent: Friday, November 20, 2026\n"
                        "To: Li Na <ln@example.cn>\nSubject: plan\n",
    "outlook zh": "发件人: 张伟 <zw@example.cn>\n发送时间: 2026年11月20日 10:00\n"
                  "收件人: 李娜\n主题: 计划\n",
    "outlook zh fullwidth": "发件人：张伟\n发送时间：2026年11月20日\n收件人：李娜\n主题：计划\n",
    "outlook zh original": "-----原始邮件-----\n发件人: 张伟\n",
    "qq mail": "------------------ 原始邮件 ------------------\n发件人: \"张伟\"<zw@example.cn>;\n",
    "foxmail nbsp": "------------------&nbsp;Original&nbsp;------------------\nFrom: x\n",
    "netease": "在 2026-11-20 10:00:00，\"张伟\" <zw@example.cn> 写道：\n>请确认\n",
    "gmail zh": "张伟 <zw@example.cn> 于2026年11月20日周五 10:00写道：\n> 请确认\n",
    "gmail en wrapped": "On Fri, Nov 20, 2026 at 10:00 AM Zhang Wei <zw@example.cn>\nwrote:\n"
                        "> please confirm\n",
    "apple": "> On 20 Nov 2026, at 10:00, Zhang Wei <zw@example.cn> wrote:\n>\n> confirm?\n",
    "angle only": "> please confirm\n> thanks\n",
}


@pytest.mark.parametrize("client", sorted(QUOTE_HEADERS))
def test_own_text_stops_at_each_clients_quote_header(client: str) -> None:
    header = QUOTE_HEADERS[client]
    # After ">" quoting, unquoted lines are inline answers, so history there is quoted too.
    history = "> 旧内容 old text\n" if ">" in header else "旧内容 old text\n"
    parts = split_reply("收到，明白。\n\n" + header + "\n" + history)
    assert parts.own_text == "收到，明白。"
    assert parts.quoted_text


@pytest.mark.parametrize("signature", [
    "-- \n张伟\n运维部", "发自我的iPhone", "Sent from my iPhone", "发自网易邮箱大师",
    "Get Outlook for iOS", "本邮件及其附件含有保密信息，仅限于发送给上面地址中列出的个人或群组。",
    "Best regards,\nZhang Wei\nTel: +86 10 1234 5678",
])
def test_signatures_are_separated_from_the_reply(signature: str) -> None:
    parts = split_reply(f"Noted, will do.\n\n{signature}\n")
    assert parts.own_text == "Noted, will do."
    assert parts.signature.replace(" ", "") == signature.strip().replace(" ", "")


def test_a_reply_that_is_only_a_closing_word_keeps_it_as_own_text() -> None:
    assert split_reply("谢谢").own_text == "谢谢"


def test_inline_answers_between_quoted_lines_are_own_text() -> None:
    body = ("On Fri, Zhang Wei wrote:\n"
            "> 1. 能否周五完成？\n可以。\n\n"
            "> 2. 需要停机吗？\n需要半小时。\n")
    parts = split_reply(body)
    assert parts.own_text == "可以。\n\n需要半小时。"
    assert "能否周五完成" in parts.quoted_text


def test_sender_name_starts_a_signature() -> None:
    parts = split_reply("OK for me.\n\nLi Na\nProject Manager\nExample Ltd", sender_name="Li Na")
    assert parts.own_text == "OK for me."
    assert parts.signature.startswith("Li Na")


def test_html_only_reply_uses_quote_containers() -> None:
    html = ("<div>已确认</div><div id='divRplyFwdMsg'><b>发件人:</b> 张伟</div>"
            "<div>请确认附件</div>")
    parts = split_reply("", html)
    assert parts.own_text == "已确认"
    assert "请确认附件" in parts.quoted_text


@pytest.mark.parametrize("container", [
    '<blockquote type="cite">old</blockquote>',
    '<div class="gmail_quote">old</div>',
    '<blockquote id="isReplyContent">old</blockquote>',                 # NetEase
    "<includetail><div>old</div></includetail>",                         # QQ Mail
    '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
    "<p><b>From:</b> old</p></div>",                                     # Outlook desktop
    '<div name="messageReplySection">old</div>',                         # Exchange
])
def test_each_html_quote_container_starts_the_history(container: str) -> None:
    parts = split_reply("", f"<p>Fine by me.</p>{container}")
    assert parts.own_text == "Fine by me."
    assert "old" in parts.quoted_text


def test_no_quote_no_signature_is_all_own_text() -> None:
    assert split_reply("Line one\nline two").own_text == "Line one\nline two"
