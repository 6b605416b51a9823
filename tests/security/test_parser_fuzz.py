"""Fuzzing the parser: any bytes either parse or are quarantined with a reason, never a crash.

Hypothesis builds mail-shaped input (header fields with hostile values, nested multiparts with
random boundaries, encodings and charsets, RFC 2047 and RFC 2231 parameters, bare CR/LF/NUL);
tests/parse/test_never_crashes.py already throws random bytes. Bounded: 200 examples, no
deadline. atheris (coverage-guided) runs a bounded number of inputs in a subprocess, because
its driver exits the process; skipped when atheris is not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import Quarantine
from gateway.parse import ParsedMessage, parse_message

REPO = Path(__file__).resolve().parents[2]

NAMES = st.sampled_from([
    "From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version",
    "Auto-Submitted", "Authentication-Results", "Reply-To", "Return-Path", "Thread-Index",
    "X-Commgate-Category", "Disposition-Notification-To", "Received"])
TOKENS = st.sampled_from([
    "=?utf-8?b?5pS25Yiw?=", "=?gb2312?B?ytW1vQ==?=", "=?utf-8?q?=0D=0ABcc:_x@y?=", "=?x?q??=",
    "multipart/mixed; boundary=", "multipart/report; report-type=delivery-status; boundary=",
    "message/rfc822", "text/html; charset=gbk", "base64", "quoted-printable", "8bit",
    "attachment; filename*=UTF-8''%E5%B7%A1%E6%A3%80.xlsx", "filename*0*=gbk''%D1%B2",
    "<a@b>", "<>", "\"q\\\"uoted\" <x@y>", "undisclosed-recipients:;", "@", ",,,", "(((",
    "mx.xdyj.example.com; dmarc=fail", "auto-replied", "\r", "\n", "\x00", "\u2028", "收到",
    "Re: 回复：答复：", "[demo#R1]", "\xff\xfe", "=", "?=", "--", "\t", " "])
VALUE = st.lists(st.one_of(TOKENS, st.text(max_size=20)), max_size=6).map("".join)


@st.composite
def mail(draw: st.DrawFn, depth: int = 0) -> bytes:
    fields = draw(st.lists(st.tuples(NAMES, VALUE), max_size=12))
    head = "".join(f"{name}: {value}\r\n" for name, value in fields)
    if depth < 3 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b", "==x==", "b" * 70, "", "a b"]))
        kind = draw(st.sampled_from(["mixed", "alternative", "related", "report", "digest"]))
        parts = draw(st.lists(mail(depth + 1), max_size=3))
        closing = draw(st.sampled_from([f"--{boundary}--\r\n", "", f"--{boundary}"]))
        body = b"".join(f"--{boundary}\r\n".encode() + p for p in parts) + closing.encode()
        head += f'Content-Type: multipart/{kind}; boundary="{boundary}"\r\n'
    else:
        body = draw(st.one_of(
            st.binary(max_size=200),
            st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
            st.sampled_from([b"5pS25Yiw\r\n", b"=E6=94=B6=E5=88=B0=\r\n", b"<html><p>x",
                             b"\xca\xd5\xb5\xbd", b"begin 644 x\r\n`\r\nend\r\n"])))
    charset = draw(st.sampled_from(["utf-8", "gb2312", "latin-1", "ascii"]))
    return head.encode(charset, "replace") + b"\r\n" + body


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mail())
def test_mail_shaped_input_parses_or_is_quarantined(raw: bytes) -> None:
    try:
        parsed = parse_message(raw)
    except Quarantine as refused:
        assert str(refused).strip() and refused.stage == "parse"
        return
    assert isinstance(parsed, ParsedMessage)
    for _name, address in (*parsed.to, *parsed.cc):
        assert "\n" not in (address or "") and "\r" not in (address or "")


ATHERIS_DRIVER = textwrap.dedent("""
    import sys
    import atheris
    with atheris.instrument_imports(include=["gateway.parse"]):
        from gateway.errors import Quarantine
        from gateway.parse import parse_message

    def one(data: bytes) -> None:
        try:
            parse_message(data)
        except Quarantine:
            pass

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()
""")


def test_atheris_finds_no_crash_in_a_bounded_run(tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris not installed (pip install atheris)")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    fixtures = sorted((REPO / "tests" / "fixtures" / "mail").glob("*.eml"))[:20]
    for number, path in enumerate(fixtures):
        (seeds / f"{number}.eml").write_bytes(path.read_bytes())
    driver = tmp_path / "driver.py"
    driver.write_text(ATHERIS_DRIVER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(driver), "-runs=3000", "-max_len=8192", "-rss_limit_mb=2048",
         f"-artifact_prefix={tmp_path}/", str(seeds)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Done 3000 runs" in done.stderr, done.stderr[-3000:]
