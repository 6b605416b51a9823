"""Building small test messages and waiting for the pipeline."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TypeVar

T = TypeVar("T")

# The demo's trusted upstream (config/projects/demo.toml ``[auth] trusted_authserv_ids``).
UPSTREAM = "mx.xdyj.example.com"


def upstream_pass(sender: str) -> str:
    """The ``Authentication-Results`` the trusted upstream adds on top of genuine mail from
    ``sender`` (RFC 8601): without it a reply is ``unverified`` (gateway/receipts/auth.py)."""
    domain = sender.rpartition("@")[2].strip("<> ").lower()
    return f"{UPSTREAM}; dmarc=pass header.from={domain}"


def make_mail(*, subject: str, sender: str = "lina@xdyj.example.com",
              to: str = "liuyang@xdyj.example.com", cc: str = "proj-demo@gw.example.com",
              body: str = "请于今晚22:00前完成核心交换机巡检，完成后回复确认。\n",
              message_id: str | None = None, in_reply_to: str | None = None,
              date: datetime | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="xdyj.example.com")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(body)
    return msg


def wait_for(probe: Callable[[], T | None], *, timeout: float = 20.0,
             interval: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
