"""DingTalk custom robot (自定义机器人): a markdown message per record, signed when a secret is set.

Signing ("加签", DingTalk open platform docs, custom robot security settings): with the robot's
secret, ``string_to_sign = f"{timestamp}\\n{secret}"`` where ``timestamp`` is milliseconds since
the epoch; ``sign = urlencode(base64(hmac_sha256(secret, string_to_sign)))``; both are appended
to the webhook URL as ``&timestamp=…&sign=…``. DingTalk rejects a timestamp more than one hour
off, so it is computed when sending, from the injected clock. Success is HTTP 200 *and*
``errcode == 0`` in the JSON body (e.g. 310000 = bad signature, 130101 = too many messages:
20 a minute per robot) — anything else is retried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.audit.labels import CATEGORY, FORMALITY, GROUP, label
from gateway.connectors.base import Endpoint, json_body, post
from gateway.errors import ConnectorError


def sign(secret: str, timestamp_ms: int) -> str:
    """The URL-encoded ``sign`` parameter for ``timestamp_ms``."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest))


def signed_url(url: str, secret: str, now: datetime) -> str:
    if not secret:
        return url
    timestamp = int(now.timestamp() * 1000)
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp}&sign={sign(secret, timestamp)}"


def _escape(text: str) -> str:
    # DingTalk markdown: keep a subject's own markup from turning into headings or links.
    return text.replace("\r", " ").replace("\n", " ").replace("#", "＃").replace("[", "［")


def markdown(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The robot message for one record (zh-CN first; an en project gets English labels)."""
    lang = str(payload.get("language", "zh-CN"))
    zh = lang.startswith("zh")
    category = label(CATEGORY, payload.get("category"), lang)
    subject = _escape(str(payload.get("subject") or ""))
    title = f"【{category}】{subject}"[:64]
    rows = [
        ("项目" if zh else "Project", f"{payload['project_name']} ({payload['project']})"),
        ("类别" if zh else "Category", category),
        ("干系人" if zh else "Stakeholders", label(GROUP, payload.get("stakeholder_group"), lang)),
        ("沟通方式" if zh else "Formality", label(FORMALITY, payload.get("formality"), lang)),
        ("时间" if zh else "Time", str(payload.get("created_at", ""))[:16].replace("T", " ")),
        ("记录" if zh else "Record", f"{payload['project']}#R{payload['record_id']}"),
    ]
    lines = [f"#### 【{category}】{subject}", ""]
    lines += [f"- **{k}**：{v}" if zh else f"- **{k}**: {v}" for k, v in rows]
    parties = "、".join(p.get("name") or p.get("address", "") for p in payload.get("parties", []))
    if parties:
        lines.append(f"- **{'相关方' if zh else 'Parties'}**：{_escape(parties)}")
    if payload.get("summary"):
        lines += ["", "> " + "\n> ".join(str(payload["summary"]).splitlines())]
    if payload.get("conclusion"):
        lines += ["", f"**{'结论' if zh else 'Conclusion'}**：{payload['conclusion']}"]
    return {"msgtype": "markdown", "markdown": {"title": title, "text": "\n".join(lines)},
            "at": {"isAtAll": False}}


class DingTalkRobot(Endpoint):
    """The custom robot webhook of one DingTalk group."""

    def deliver(self, payload: Mapping[str, Any], *, idempotency_key: str,
                now: datetime) -> None:
        # The robot API has no idempotency key: the outbox's claim is what prevents doubles.
        body = json_body(markdown(payload))
        reply = post(signed_url(self.url, self.secret, now), body,
                     {"Content-Type": "application/json; charset=utf-8"}, timeout=self.timeout)
        try:
            answer = json.loads(reply or b"{}")
        except ValueError:
            raise ConnectorError("DingTalk answered with something that is not JSON") from None
        if not isinstance(answer, dict) or answer.get("errcode", 0) != 0:
            errcode = answer.get("errcode") if isinstance(answer, dict) else "?"
            errmsg = answer.get("errmsg") if isinstance(answer, dict) else ""
            raise ConnectorError(f"DingTalk errcode {errcode}: {errmsg}")
