"""Replies as real mail programs write them: own text on top, the original quoted below."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

from tests.support.mail import upstream_pass


def _original_text(original: EmailMessage) -> str:
    body = original.get_body(("plain",))
    return body.get_content().strip() if body is not None else ""


def outlook(own: str, original: EmailMessage, signature: str = "") -> str:
    """Outlook (zh-CN): a rule, then 发件人/发送时间/收件人/主题 headers of the original."""
    return (f"{own}\n\n{signature}\n\n________________________________\n"
            f"发件人: {original['From']}\n发送时间: 2026年11月24日 10:00\n"
            f"收件人: {original['To']}\n抄送: {original['Cc']}\n主题: {original['Subject']}\n\n"
            f"{_original_text(original)}\n")


def foxmail(own: str, original: EmailMessage) -> str:
    """Foxmail: ``------------------ Original ------------------`` and From:/Date: lines."""
    return (f"{own}\n\n------------------ Original ------------------\n"
            f"From:  {original['From']};\nDate:  Tue, Nov 24, 2026 10:00 AM\n"
            f"To:  {original['To']};\nSubject:  {original['Subject']}\n\n"
            f"{_original_text(original)}\n")


def qqmail(own: str, original: EmailMessage) -> str:
    """QQ Mail: ``------------------ 原始邮件 ------------------`` with 发件人/发送时间."""
    return (f"{own}\n\n\n------------------ 原始邮件 ------------------\n"
            f"发件人: {original['From']};\n发送时间: 2026年11月24日(星期二) 上午10:00\n"
            f"收件人: {original['To']};\n主题: {original['Subject']}\n\n"
            f"{_original_text(original)}\n")


def mdn(original: EmailMessage, *, reader: str, to: str) -> bytes:
    """An RFC 8098 read receipt for ``original``, as Foxmail and Outlook send them."""
    boundary = "mdn-boundary-1"
    original_id = str(original["Message-ID"])
    return (
        f"Authentication-Results: {upstream_pass(reader)}\r\n"
        f"From: {reader}\r\nTo: {to}\r\nCc: proj-demo@gw.example.com\r\n"
        f"Subject: =?utf-8?b?5bey6K+7?=: read\r\n"
        f"Date: Tue, 24 Nov 2026 11:30:00 +0800\r\n"
        f"Message-ID: {make_msgid(domain='xdyj.example.com')}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/report; report-type=disposition-notification; "
        f"boundary=\"{boundary}\"\r\n\r\n"
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Your message was displayed.\r\n"
        f"--{boundary}\r\nContent-Type: message/disposition-notification\r\n\r\n"
        f"Reporting-UA: Foxmail 7.2\r\nFinal-Recipient: rfc822;{reader}\r\n"
        f"Original-Message-ID: {original_id}\r\n"
        f"Disposition: manual-action/MDN-sent-manually; displayed\r\n"
        f"--{boundary}--\r\n").encode()


def _html_original(original: EmailMessage) -> str:
    return "".join(f"<div>{line}</div>" for line in _original_text(original).splitlines())


def _escaped(address: object) -> str:
    return str(address).replace("<", "&lt;").replace(">", "&gt;")


def outlook_web_html(own: str, original: EmailMessage) -> str:
    """Outlook on the web / new Outlook (zh-CN): ``#appendonsend``, ``hr``, ``#divRplyFwdMsg``."""
    return (f'<html><body dir="ltr"><div class="elementToProof">{own}</div>'
            '<div id="appendonsend"></div><hr style="display:inline-block;width:98%" tabindex="-1">'
            f'<div id="divRplyFwdMsg" dir="ltr"><b>发件人:</b> {_escaped(original["From"])}<br>'
            f'<b>发送时间:</b> 2026年11月24日 10:00<br>'
            f'<b>收件人:</b> {_escaped(original["To"])}<br>'
            f'<b>主题:</b> {original["Subject"]}</div>{_html_original(original)}</body></html>')


def iphone_html(own: str, original: EmailMessage) -> str:
    """iPhone Mail (zh-CN): 发自我的iPhone, the attribution inside ``blockquote type=cite``."""
    return ('<html><body dir="auto">'
            f'<div dir="ltr">{own}</div><div dir="ltr"><br></div>'
            '<div dir="ltr">发自我的iPhone</div>'
            f'<div dir="ltr"><br><blockquote type="cite">在 2026年11月24日，10:00，'
            f'{_escaped(original["From"])} 写道：<br><br></blockquote></div>'
            f'<blockquote type="cite"><div dir="ltr">{_html_original(original)}</div></blockquote>'
            '</body></html>')


def netease_html(own: str, original: EmailMessage) -> str:
    """NetEase 163/126 webmail: ``#divNeteaseMailCard``, attribution, ``#isReplyContent``."""
    return (f'<div style="line-height:1.7"><div>{own}</div><br><div id="divNeteaseMailCard"></div>'
            f'<p>在 2026-11-24 10:00:00，{_escaped(original["From"])} 写道：</p>'
            f'<blockquote id="isReplyContent" style="PADDING-LEFT: 1ex">{_html_original(original)}'
            '</blockquote></div>')


def gmail_zh(own: str, original: EmailMessage) -> str:
    """Gmail (zh-CN) plain text: ``… 于2026年11月24日周二 10:00写道：`` and ``>`` quoting."""
    quoted = "\n".join(f"> {line}" for line in _original_text(original).splitlines())
    return f"{own}\n\n{original['From']} 于2026年11月24日周二 10:00写道：\n\n{quoted}\n"


def gmail_inline(answers: list[str], original: EmailMessage, pointer: str = "答复见下文。") -> str:
    """Gmail plain text, answers written between the quoted lines under a "见下文" pointer."""
    lines = _original_text(original).splitlines()
    body = "\n".join(f"> {line}\n{answer}" for line, answer in zip(lines, answers, strict=False))
    return f"{pointer}\n\n{original['From']} 于2026年11月24日周二 10:00写道：\n\n{body}\n"


def mailmaster(own: str, original: EmailMessage) -> str:
    """NetEase Mail Master plain text: ``---- 回复的原邮件 ----`` and a ``| 发件人 | … |`` table."""
    return (f"{own}\n\n发自网易邮箱大师\n\n---- 回复的原邮件 ----\n"
            f"| 发件人 | {original['From']} |\n"
            f"| 日期 | 2026年11月24日 10:00 |\n| 收件人 | {original['To']} |\n"
            f"| 主题 | {original['Subject']} |\n{_original_text(original)}\n")


def dingtalk(own: str, original: EmailMessage) -> str:
    """DingTalk mail plain text: its footer glued to Alimail's dash rule, 日　期/主　题 labels."""
    return (f"{own}\n\n\n来自钉钉专属商务邮箱{'-' * 66}\n发件人：{original['From']}\n"
            f"日　期：2026年11月24日 10:00:09\n收件人：{original['To']}\n"
            f"主　题：{original['Subject']}\n\n{_original_text(original)}\n")


def zoho_top(own: str, original: EmailMessage) -> str:
    """Zoho Mail (zh-CN) with its ``---- 在 … 撰写 ----`` frame."""
    return (f"{own}\n\n\n---- 在 星期二, 2026-11-24 10:00:00 {original['From']} 撰写 ----\n\n"
            f"{_original_text(original)}\n")


def top_attribution(own: str, original: EmailMessage) -> str:
    """A mobile client that writes the attribution first and the reply below it, unquoted."""
    return f"在 2026-11-24 10:00:00，{original['From']} 写道：\n\n{own}\n"
