"""Which envelope recipients the listener accepts: never an open relay.

Only two kinds of address are accepted, compared case-insensitively:

* a project address, ``proj-<code>@<gateway domain>``;
* a valid signed reply address, ``proj-<code>+r-<token>@<gateway domain>``
(gateway/notify/tokens.py).

The check runs on the path exactly as the client sent it, not on aiosmtpd's parse of it, because
that parse quietly drops source routes (``<@a,@b:user@host>``, RFC 5321 §4.1.2 / Appendix C),
comments and quotes. Anything outside a plain ``dot-atom@domain`` in ASCII is refused: quoted
local parts, ``%`` hacks and ``!`` bang paths (the classic relay tricks, RFC 2505 §2.6), address
literals, trailing dots, IDN look-alikes (``ｇｗ.example.com`` would IDNA-map onto ours),
and bare local parts such as ``<postmaster>`` (the MTA in front answers for postmaster).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from gateway.config.settings import Settings
from gateway.notify.tokens import ReplyToken, verify_reply_address

# RFC 5321 Path: "<" Mailbox ">", optionally followed by ESMTP parameters. Without brackets only
# a bare mailbox is tolerated (some old clients); in both forms the mailbox is a strict ASCII
# dot-atom local part and a plain host name.
_PATH = re.compile(r"^\s*(?:<(?P<bracketed>[^<>\s]*)>|(?P<bare>[^<>\s]+))"
                   r"(?:\s+[A-Za-z0-9][A-Za-z0-9-]*(?:=[!-~]*)?)*\s*$")  # esmtp-param, §4.1.2
_MAILBOX = re.compile(r"^(?P<local>[A-Za-z0-9](?:[A-Za-z0-9_+-]|\.(?!\.))*)"
                      r"@(?P<domain>[A-Za-z0-9](?:[A-Za-z0-9-]|\.(?!\.))*[A-Za-z0-9])$")


REFUSED = "550 5.1.1 Recipient address rejected: no such project address"


@dataclass(frozen=True)
class Recipient:
    """An accepted recipient: the address as sent, its project, and its reply token if any."""

    address: str
    project_code: str
    reply_token: ReplyToken | None = None


def mailbox_of_path(raw_path: str) -> str | None:
    """The mailbox in a raw ``RCPT TO:`` argument (after ``TO:``), or None if not plain."""
    match = _PATH.match(raw_path)
    if match is None:
        return None
    mailbox = match["bracketed"] if match["bracketed"] is not None else match["bare"]
    if mailbox is None or _MAILBOX.match(mailbox) is None or mailbox.endswith("."):
        return None
    return mailbox


def accepted_recipient(settings: Settings, raw_path: str, *, now: datetime) -> Recipient | None:
    """The recipient named by ``raw_path`` if the gateway accepts mail for it, else None."""
    mailbox = mailbox_of_path(raw_path)
    if mailbox is None:
        return None
    local, _, domain = mailbox.lower().rpartition("@")
    if domain != settings.gateway.domain:
        return None
    if "+" not in local:
        project = settings.project_for_address(f"{local}@{domain}")
        if project is None or project.address != f"{local}@{domain}":
            return None
        return Recipient(address=mailbox, project_code=project.code)
    token = verify_reply_address(settings, mailbox, now=now)
    if token is None:
        return None
    return Recipient(address=mailbox, project_code=token.project_code, reply_token=token)
