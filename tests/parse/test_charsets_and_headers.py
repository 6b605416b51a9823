"""Charset lies and the two CPython 3.11 traps, told as small inline messages."""

from __future__ import annotations

import base64
from email import policy
from email.parser import BytesParser

from gateway.parse import parse_message
from gateway.parse.charsets import decode_bytes, normalize_charset
from gateway.parse.headers import decode_header_value, message_ids


def _split_words(text: str, charset: str, cut: int) -> str:
    data = text.encode("gbk" if charset == "gb2312" else charset)
    first, second = (base64.b64encode(part).decode() for part in (data[:cut], data[cut:]))
    return f"=?{charset}?B?{first}?=\r\n =?{charset}?B?{second}?="


def test_trap_1_gb2312_label_is_read_as_gb18030() -> None:
    # CPython's gb2312 codec rejects 镕, which every "gb2312" mailer really sends (as GBK).
    assert normalize_charset("GB2312") == "gb18030"
    assert normalize_charset("x-gbk") == "gb18030"
    assert decode_bytes("朱镕基".encode("gbk"), "gb2312") == "朱镕基"


def test_trap_2_encoded_words_splitting_a_character_are_joined_before_decoding() -> None:
    header = _split_words("会议通知", "gbk", 3)
    raw = f"Subject: {header}\r\n\r\nbody\r\n".encode()
    # The stdlib alone garbles it...
    assert BytesParser(policy=policy.default).parsebytes(raw)["subject"] != "会议通知"
    # ...we do not.
    assert decode_header_value(header) == "会议通知"
    assert parse_message(raw).subject == "会议通知"


def test_split_big5_word_and_q_encoding_are_joined_too() -> None:
    data = "會議通知".encode("big5")
    q = "".join(f"={byte:02X}" for byte in data)
    header = f"=?big5?Q?{q[:9]}?= =?big5?Q?{q[9:]}?="
    assert decode_header_value(header) == "會議通知"


def test_raw_8bit_chinese_headers_are_decoded() -> None:
    raw = "Subject: 关于变更的通知\r\nFrom: 张伟 <zw@example.cn>\r\n\r\nx".encode("gbk")
    parsed = parse_message(raw)
    assert parsed.subject == "关于变更的通知"
    assert parsed.from_name == "张伟"


def test_declared_big5_but_utf8_bytes_is_read_as_utf8() -> None:
    body = base64.b64encode("您好！ 你今天好吗？".encode()).decode()
    raw = ("Content-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + body).encode()
    parsed = parse_message(raw)
    assert parsed.text == "您好！ 你今天好吗？"
    assert any("UTF-8" in defect for defect in parsed.defects)


def test_mislabelled_gbk_without_charset_is_guessed() -> None:
    raw = b"Content-Type: text/plain\r\n\r\n" + "请确认本月的运维服务报告".encode("gbk")
    assert parse_message(raw).text == "请确认本月的运维服务报告"


def test_latin1_declared_utf8_falls_back() -> None:
    raw = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + "einzufügen: äöü".encode("latin-1")
    assert parse_message(raw).text == "einzufügen: äöü"


def test_iso_2022_jp_body_and_unknown_label() -> None:
    raw = (b"Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n"
           + "了解しました".encode("iso-2022-jp"))
    assert parse_message(raw).text == "了解しました"
    weird = b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nplain ascii"
    assert parse_message(weird).text == "plain ascii"


def test_rfc2231_and_rfc2047_everywhere_in_one_header() -> None:
    assert decode_header_value("=?utf-8?q?a?= =?utf-8?q?b?= c =?utf-8?q?d?=") == "ab c d"
    assert decode_header_value("=?utf-8*zh?B?5L2g5aW9?=") == "你好"  # RFC 2231 §5 language


def test_message_id_lists_drop_junk_and_lowercase_the_domain() -> None:
    assert message_ids("<A.B@Example.COM> junk <nope> <x@y>") == ["A.B@example.com", "x@y"]


def test_references_are_capped_keeping_root_and_latest() -> None:
    refs = " ".join(f"<r{i}@example.cn>" for i in range(200))
    parsed = parse_message(f"References: {refs}\r\n\r\nx".encode())
    assert len(parsed.references) == 50
    assert parsed.references[0] == "r0@example.cn" and parsed.references[-1] == "r199@example.cn"
