"""Bodies (HTML-only, stubs, alternatives) and attachments (Chinese names, forwarded mail)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from gateway.parse import ParsedMessage, parse_message, to_json

Load = Callable[[str], ParsedMessage]


def test_html_only_mail_becomes_readable_text(mail: Load) -> None:
    parsed = mail("gmail_html_only.eml")
    assert parsed.html is not None
    assert "Noted & confirmed — we will follow these steps:" in parsed.text
    assert "1. Back up the database\n2. Apply the patch" in parsed.text
    assert "Host | Window\ndb01 | 22:00–23:00" in parsed.text
    assert "alert" not in parsed.text and "color: red" not in parsed.text
    # The reply split uses Gmail's containers: signature div and gmail_quote.
    assert parsed.own_text.startswith("Noted & confirmed")
    assert "Please confirm" not in parsed.own_text
    assert parsed.signature == "Li Lei\nOps Engineer"
    assert "Please confirm the maintenance plan." in parsed.quoted_text


def test_alternative_with_stub_plain_text_prefers_html(mail: Load) -> None:
    parsed = mail("stub_alternative.eml")
    assert parsed.text == "Monthly availability: 99.95%\n\n- Incidents: 1\n- Changes: 4"


def test_alternative_prefers_real_plain_text() -> None:
    raw = (b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\n'
           b"Content-Type: text/plain\r\n\r\nplain words\r\n--b\r\nContent-Type: text/html\r\n\r\n"
           b"<p>html words</p>\r\n--b--\r\n")
    parsed = parse_message(raw)
    assert parsed.text == "plain words"
    assert parsed.html is not None and "html words" in parsed.html


def test_chinese_attachment_names_in_three_encodings(mail: Load) -> None:
    parsed = mail("attachments_cn.eml")
    names = [item.filename for item in parsed.attachments]
    assert names == ["朱镕基路机房巡检报告.xlsx",   # RFC 2231, gb2312 label, GBK-only 镕
                     "变更申请单.docx",               # RFC 2047 inside quotes (Outlook/Foxmail)
                     "月报.pdf"]                      # raw 8-bit GBK
    first = parsed.attachments[0]
    assert first.size == len(first.content) == 20
    assert first.sha256 == hashlib.sha256(first.content).hexdigest()
    assert first.disposition == "attachment"


def test_message_rfc822_part_is_parsed_as_forwarded_mail(mail: Load) -> None:
    parsed = mail("attachments_cn.eml")
    assert len(parsed.forwarded) == 1
    inner = parsed.forwarded[0]
    assert inner.subject == "原始通知"
    assert inner.message_id == "orig-0001@example-om.cn"
    assert inner.text == "原始通知正文。"


def test_to_json_is_json_safe_without_attachment_bytes(mail: Load) -> None:
    data = to_json(mail("attachments_cn.eml"))
    text = json.dumps(data, ensure_ascii=False)
    assert "content" not in data["attachments"][0]
    assert data["attachments"][0]["sha256"]
    assert set(data["flags"]) >= {"auto_reply", "bounce", "mdn"}
    assert {"own_text", "quoted_text", "signature"} <= set(data)
    assert "朱镕基路机房巡检报告.xlsx" in text
