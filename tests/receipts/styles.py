"""Replies as real mail programs write them: own text on top, the original quoted below."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid


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
