"""Bounces: RFC 3464 delivery status notifications first, then the common non-standard formats.

A DSN (``multipart/report; report-type=delivery-status``) is read field by field: ``Action:
failed`` with a 5.x.x ``Status`` (RFC 3463) is permanent, ``delayed`` or 4.x.x is temporary.
Many MTAs still send prose (qmail, old Sendmail/Exim, Exchange 5.5, GroupWise, Yahoo, Sina,
Alibaba "来自postmaster@aliyun.com的退信"): when the sender or subject says "bounce", we read
the addresses next to failure phrases in the human-readable part, never in the returned copy.
"""

from __future__ import annotations

import re
from email.message import Message

from gateway.parse.mdn import address_of, field_blocks
from gateway.parse.mimeparams import content_type
from gateway.parse.model import Bounce

_DAEMON = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon|mdaemon|"
                     r"mail\.?delivery\.?(?:system|subsystem)|bounces?|returns?)(?:[@+]|$)", re.I)
_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status notification|failure|has failed|problem)|"
    r"mail delivery (?:failed|failure|system|subsystem)|returned mail|failure notice|"
    r"could not be delivered|delivery failure|nondeliverable|non-delivery|not delivered|"
    r"message status|warning: could not send|delayed mail|delivery delayed|"
    r"退信|无法投递|投递失败|未能送达|发送失败|系统退信|邮件退回", re.I)
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_INTRO = re.compile(
    r"following (?:address|recipient)|addresses? (?:had|failed)|recipients? (?:failed|could not)|"
    r"failed (?:addresses|recipient)|not (?:be )?(?:delivered|reach)|did not (?:reach|receive)|"
    r"could not (?:be )?deliver|unable to deliver|delivery (?:to|of) .{0,40}(?:failed|delayed|"
    r"aborted)|delayed|undeliverable|permanent (?:fatal )?error|given up|was not accepted|"
    r"无法发送到|无法投递|投递失败|发送失败|退回|ÎÞ·¨|ÏÂÁÐ|Ê§°Ü", re.I)
_FAILURE = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|address)|mailbox (?:unavailable|full|is "
    r"full|not found)|does not exist|doesn't have|not found|invalid|unavailable|quota|rejected|"
    r"refused|\b5\d\d\b|\b[45]\.\d{1,3}\.\d{1,3}\b|failed|undeliverable|unable to deliver|"
    r"not delivered|delayed|could not|intended recipient|error-for|failed recipient|"
    r"originally addressed|original address|your message to|undeliverable address|无法|退信",
    re.I)
_RETURNED = re.compile(
    r"^(?:-{2,}.{0,40}(?:original message|returned message|copy of|message follows|headers? "
    r"follow|undelivered message|below this line).{0,40}|>?return-path:.*|>?received: from .*|"
    r"original message follows.*|.*included below.*|-+ original message -+)$",
    re.I)
_TEMPORARY = re.compile(r"\b(?:delayed|will (?:be )?retr(?:y|ied)|not yet been delivered|"
                        r"still trying|temporar|warning)\b|\b4\.\d{1,3}\.\d{1,3}\b|暂时|延迟", re.I)


def looks_like_bounce(from_addr: str | None, subject: str, return_path: str | None) -> bool:
    """Sender, null return path (RFC 5321 §4.5.5) or subject say this is a bounce."""
    if from_addr and _DAEMON.match(from_addr):
        return True
    return bool(_SUBJECT.search(subject[:200])) and (return_path or "").strip() in ("<>", "")


def parse_dsn(reports: list[Message]) -> tuple[list[str], bool, str | None] | None:
    """Failed recipients, permanence and first status of an RFC 3464 report part, if any."""
    for part in reports:
        if "delivery-status" not in content_type(part):
            continue
        failed: list[str] = []
        permanent = False
        status: str | None = None
        for block in field_blocks(part)[1:] or field_blocks(part):
            action = block.get("action", "").lower()
            code = block.get("status", "").split(" ")[0]
            if not (action.startswith(("failed", "delayed")) or code[:1] in ("4", "5")):
                continue
            address = address_of(block.get("original-recipient")) or address_of(
                block.get("final-recipient"))
            if address and address not in failed:
                failed.append(address)
            status = status or code or None
            permanent = permanent or action.startswith("failed") or code.startswith("5")
        return failed, permanent, status
    return None


def heuristic_bounce(text: str, *, exclude: set[str], failed_header: str | None) -> Bounce | None:
    """Addresses near failure phrases in a prose bounce; None when none is found."""
    human = _human_part(text)
    found = [a.lower() for a in _ADDRESS.findall(failed_header or "")]
    lines = human.splitlines()
    window = 0
    for line in lines:
        addresses = [a.lower().rstrip(".") for a in _ADDRESS.findall(line)]
        if _INTRO.search(line):
            window = 8
        if addresses and (window > 0 or _FAILURE.search(line) or line.lstrip().startswith("<")):
            found.extend(a for a in addresses if a not in found)
        window = max(window - 1, 0)
    failed = [a for a in dict.fromkeys(found) if a not in exclude and not _DAEMON.match(a)]
    if not failed:
        return None
    permanent = _TEMPORARY.search(human) is None
    return Bounce(failed_recipients=failed, permanent=permanent, original_message_id=None,
                  status=None, standard=False)


def _human_part(text: str) -> str:
    """The prose before the returned copy of the original message."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if index > 2 and _RETURNED.match(line.strip()):
            return "\n".join(lines[:index])
    return text
