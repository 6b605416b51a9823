"""The demo's cast, clock and mail: what ``commgate demo`` sends into the gateway.

The people are those of ``config/projects/demo.toml`` (a public interface: acceptance tests and
the demo rely on them). Mail is written the way real programs write it — a directive with the
project address in Cc, a Foxmail reply quoting the original under ``------------------ Original
------------------``, an Outlook (zh-CN) reply quoting under ``发件人:/发送时间:`` — so the
demo exercises the same parse/reply-splitting rules production mail meets. Every mail carries
the ``Authentication-Results`` header (RFC 8601) the project's trusted upstream writes on top:
``dmarc=pass`` on genuine mail; on the forged reply, DMARC failed, so the receipts stage must
keep it, flag it and never count it.

Pure data and builders; nothing here touches a socket or the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
DOMAIN = "xdyj.example.com"
PROJECT = "proj-demo@gw.example.com"
TRUSTED_MX = "mx.xdyj.example.com"

WANGQIANG = ("王强", "wangqiang@xdyj.example.com")  # dept_manager
ZHANGWEI = ("张伟", "zhangwei@xdyj.example.com")  # project_manager
LINA = ("李娜", "lina@xdyj.example.com")  # engineer
LIUYANG = ("刘洋", "liuyang@xdyj.example.com")  # engineer
CHENJING = ("陈静", "chenjing@xdyj.example.com")  # engineer
SUNZONG = ("孙总", "sunzong@xdyj.example.com")  # leadership
HUANG = ("黄经理", "huang@client.example.cn")  # client
HE = ("何工", "he@client.example.cn")  # client

Person = tuple[str, str]

DIRECTIVE_SUBJECT = "【指令】国庆前完成核心交换机巡检及配置备份"
DIRECTIVE_BODY = (
    "刘洋、陈静：\n\n"
    "国庆假期前请完成以下工作：\n"
    "1. 核心交换机 CORE-SW01/02 巡检，重点检查光模块告警和电源模块；\n"
    "2. 导出两台设备的运行配置并上传到配置库。\n\n"
    "完成后请回复确认。\n\n李娜\n")


def at(text: str) -> datetime:
    """``"2026-09-30 09:30"`` in the project's zone (Asia/Shanghai)."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def _addr(person: Person) -> str:
    return formataddr(person)


def _base(*, sender: Person, to: list[Person], cc: list[str], subject: str,
          when: datetime) -> EmailMessage:
    msg = EmailMessage()
    # Genuine mail reaches the gateway through the trusted upstream, which checked it and wrote
    # its results on top (RFC 8601); without them a reply would be unverified (authcheck.py).
    msg["Authentication-Results"] = passed_header(sender[1].split("@")[1])
    msg["From"] = _addr(sender)
    msg["To"] = ", ".join(_addr(p) for p in to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain=sender[1].split("@")[1])
    return msg


def directive(when: datetime) -> EmailMessage:
    """李娜's directive to 刘洋 and 陈静, the project address in Cc (as staff do every day)."""
    msg = _base(sender=LINA, to=[LIUYANG, CHENJING], cc=[_addr(("项目邮箱", PROJECT))],
                subject=DIRECTIVE_SUBJECT, when=when)
    msg.set_content(DIRECTIVE_BODY)
    return msg


def _text_of(original: EmailMessage) -> str:
    body = original.get_body(("plain",))
    return body.get_content().strip() if body is not None else ""


def foxmail_quote(own: str, original: EmailMessage) -> str:
    """Foxmail's reply layout: own text, then the original under its ``Original`` rule."""
    return (f"{own}\n\n------------------ Original ------------------\n"
            f"From:  {original['From']};\nDate:  {original['Date']}\n"
            f"To:  {original['To']};\nCc:  {original['Cc']};\n"
            f"Subject:  {original['Subject']}\n\n{_text_of(original)}\n")


def outlook_quote(own: str, original: EmailMessage) -> str:
    """Outlook (zh-CN): own text, a rule, then 发件人/发送时间/收件人/主题 of the original."""
    return (f"{own}\n\n________________________________\n"
            f"发件人: {original['From']}\n发送时间: {original['Date']}\n"
            f"收件人: {original['To']}\n抄送: {original['Cc']}\n主题: {original['Subject']}\n\n"
            f"{_text_of(original)}\n")


def reply(original: EmailMessage, *, sender: Person, body: str, when: datetime,
          headers: dict[str, str] | None = None) -> EmailMessage:
    """A reply to the original's author, the project address kept in Cc, threaded by ids."""
    author = original["From"].addresses[0]
    msg = _base(sender=sender, to=[(author.display_name, author.addr_spec)],
                cc=[_addr(("项目邮箱", PROJECT))], subject="回复: " + str(original["Subject"]),
                when=when)
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = str(original["Message-ID"])
    for name, value in (headers or {}).items():
        if name in msg:
            msg.replace_header(name, value)  # in place: the upstream's header stays on top
        else:
            msg[name] = value
    msg.set_content(body)
    return msg


def passed_header(from_domain: str) -> str:
    """What the trusted upstream writes on genuine mail from ``from_domain`` (RFC 8601)."""
    return (f"{TRUSTED_MX}; spf=pass smtp.mailfrom={from_domain}; "
            f"dkim=pass header.d={from_domain}; dmarc=pass header.from={from_domain}")


def forged_header(from_domain: str) -> str:
    """What the trusted upstream writes when DMARC fails for the From domain (RFC 8601)."""
    return (f"{TRUSTED_MX}; spf=fail smtp.mailfrom={from_domain}; dkim=none; "
            f"dmarc=fail (p=reject) header.from={from_domain}")


@dataclass(frozen=True)
class ChangeNotice:
    """The fields of 张伟's schedule change notice to the client (policy 4.2.1)."""

    values: dict[str, str]


CHANGE = ChangeNotice(values={
    "change_type": "schedule",
    "summary": "核心交换机割接延期至10月10日",
    "reason": "替换用的电源模块在国庆前无法到货",
    "impact": "割接窗口顺延至10月10日（调休工作日）22:00，期间业务不受影响",
    "new_dates": "2026-10-10 22:00",
    "contact": "张伟 138-0000-0000",
    "reply_by": "2026-10-08",
})
