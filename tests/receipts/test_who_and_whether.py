"""Who owes a receipt, and whether a reply may count: recipient selection and the auth policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.settings import Settings, load_settings
from gateway.parse import parse_message
from gateway.receipts.auth import check, check_dkim, check_headers
from gateway.receipts.owing import owing
from tests.receipts.conftest import CHENJING, LINA, LIUYANG, PROJECT, directive

TRUSTED = ["mx.xdyj.example.com"]


@pytest.fixture
def settings(config_dir: Path) -> Settings:
    return load_settings(config_dir / "gateway.toml",
                         {"COMMGATE_SECRET_KEY": "test-secret-key-0123456789",
                          "COMMGATE_DATA_DIR": str(config_dir.parent / "var")})


def _owing(settings: Settings, **kwargs: object) -> list[str]:
    msg = directive(subject="【指令】巡检", sender=LINA, body="请回复确认。\n",
                    **kwargs)  # type: ignore[arg-type]
    parsed = parse_message(bytes(msg))
    return [addr for _name, addr in owing(parsed, settings.project("demo"), settings)]


def test_to_and_cc_owe_but_never_the_sender_the_project_or_the_gateway(
        settings: Settings) -> None:
    token = "proj-demo+r-1-abc-aaaaaaaaaa@gw.example.com"
    assert _owing(settings, to=[LIUYANG, "LINA+phone@XDYJ.example.com"],
                  cc=[PROJECT, CHENJING, token, "LiuYang+ops@xdyj.example.com"]) == [
        LIUYANG, CHENJING]


def test_to_only_when_the_project_says_so(settings: Settings) -> None:
    import dataclasses

    demo = settings.project("demo")
    only_to = demo.model_copy(update={"escalation": demo.escalation.model_copy(
        update={"recipients": "to"})})
    narrowed = dataclasses.replace(settings, projects={"demo": only_to})
    msg = directive(subject="【指令】巡检", sender=LINA, to=[LIUYANG], cc=[PROJECT, CHENJING],
                    body="请回复确认。\n")
    assert [a for _n, a in owing(parse_message(bytes(msg)), only_to, narrowed)] == [LIUYANG]


def test_a_mailing_list_never_owes_a_receipt(settings: Settings) -> None:
    listed = _owing(settings, to=["ops-team@xdyj.example.com", LIUYANG, "x@elsewhere.example"],
                    headers={"List-Id": "运维组 <ops-team.xdyj.example.com>",
                             "List-Post": "<mailto:ops-team@xdyj.example.com>"})
    assert listed == [LIUYANG]  # known people only; the list address never
    assert _owing(settings, to=["all@xdyj.example.com", CHENJING],
                  headers={"Precedence": "list"}) == [CHENJING]


@pytest.mark.parametrize(("header", "forged"), [
    ("mx.xdyj.example.com; dmarc=fail header.from=xdyj.example.com", True),
    ("mx.xdyj.example.com; dkim=fail header.d=xdyj.example.com; spf=pass", True),
    ("mx.xdyj.example.com; dkim=permerror header.d=xdyj.example.com", True),
    ("MX.XDYJ.example.com (postfix) ; dmarc=fail (p=reject) header.from=xdyj.example.com", True),
    ("mx.xdyj.example.com; dmarc=pass header.from=xdyj.example.com; dkim=pass", False),
    # untrusted authserv-ids are ignored, pass or fail
    ("evil.example; dmarc=fail header.from=xdyj.example.com", False),
    ("mx.xdyj.example.com.evil.example; dmarc=fail", False),
    # a broken second signature beside an aligned good one is not a forgery
    ("mx.xdyj.example.com; dkim=fail header.d=list.example; dkim=pass "
     "header.d=xdyj.example.com", False),
    ("mx.xdyj.example.com; none", False),
    ("garbage ;;; = =", False),
])
def test_authentication_results_from_the_trusted_upstream_only(header: str,
                                                              forged: bool) -> None:
    verdict = check_headers([header], trusted=TRUSTED, from_addr=LIUYANG)
    assert verdict.forged is forged


def test_own_dkim_check_with_dkimpy() -> None:
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"s1._domainkey.xdyj.example.com." else None

    msg = bytes(directive(subject="Re: 巡检", sender=LIUYANG, to=[LINA], body="收到\n"))
    msg = msg.replace(b"\n", b"\r\n") if b"\r\n" not in msg else msg
    signature = dkim.sign(msg, b"s1", b"xdyj.example.com", private,
                          include_headers=[b"from", b"to", b"subject"])
    signed = signature + msg
    assert check_dkim(signed, dnsfunc=dns).forged is False
    tampered = signed.replace("收到".encode(), "拒绝".encode())
    assert check_dkim(tampered, dnsfunc=dns).forged is True
    assert check_dkim(msg, dnsfunc=dns).forged is False  # unsigned: no verdict
    # the whole policy: "signed" mode runs the own check after the headers
    assert check(headers=[], trusted=TRUSTED, from_addr=LIUYANG, raw=tampered,
                 dkim_verify="signed", dnsfunc=dns).forged is True
    assert check(headers=[], trusted=TRUSTED, from_addr=LIUYANG, raw=tampered,
                 dkim_verify="off", dnsfunc=dns).forged is False


def _dkim_key(selector: bytes, domain: bytes) -> tuple[bytes, tuple[bytes, bytes]]:
    """A fresh RSA key: ``(private PEM, (DNS name, TXT record))``."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, (selector + b"._domainkey." + domain + b".",
                     b"v=DKIM1; k=rsa; p=" + base64.b64encode(public))


def test_own_dkim_check_tries_every_signature_and_a_dns_failure_is_no_forgery() -> None:
    import dkim

    own_key, own_txt = _dkim_key(b"s1", b"xdyj.example.com")
    list_key, list_txt = _dkim_key(b"l1", b"lists.example.net")
    records = dict([own_txt, list_txt])

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    def broken_dns(name: bytes, timeout: int = 5) -> bytes | None:
        raise TimeoutError("resolver did not answer")

    msg = bytes(directive(subject="Re: 巡检", sender=LIUYANG, to=[LINA], body="收到\n"))
    msg = msg.replace(b"\n", b"\r\n") if b"\r\n" not in msg else msg
    # The author signs From and To; a list signs on top, subject included, and then rewrites
    # the subject: the list's signature breaks, the author's below still holds
    own = dkim.sign(msg, b"s1", b"xdyj.example.com", own_key, include_headers=[b"from", b"to"])
    signed = own + msg
    relay = dkim.sign(signed, b"l1", b"lists.example.net", list_key,
                      include_headers=[b"from", b"to", b"subject"])
    both = (relay + signed).replace("Re: 巡检".encode(), "[list] Re: 巡检".encode())
    # When the top (list) signature fails, the author's below still verifies: it passes
    verdict = check_dkim(both, from_addr=LIUYANG, dnsfunc=dns)
    assert verdict.verified, verdict
    assert "d=xdyj.example.com" in verdict.evidence[0]
    # Only a third party's signature, and it passes: no evidence for the From domain
    third = relay + msg
    assert check_dkim(third, from_addr=LIUYANG, dnsfunc=dns).unverified
    # A broken signature of somebody else is no evidence against the author either
    assert not check_dkim(both.replace(own, b""), from_addr=LIUYANG, dnsfunc=dns).forged
    # The author's own signature broken, nothing passing: forged
    tampered = signed.replace("收到".encode(), "拒绝".encode())
    assert check_dkim(tampered, from_addr=LIUYANG, dnsfunc=dns).forged
    # A DNS failure is a temporary error: unverified, never forged
    for raw in (signed, tampered, both):
        verdict = check_dkim(raw, from_addr=LIUYANG, dnsfunc=broken_dns)
        assert verdict.unverified and not verdict.forged, verdict
        assert "temperror" in verdict.reasons[0]
    # The whole policy with a trusted upstream that says nothing: the own check decides
    assert check(headers=[], trusted=TRUSTED, from_addr=LIUYANG, raw=both,
                 dkim_verify="signed", dnsfunc=dns).verified
    assert check(headers=[], trusted=TRUSTED, from_addr=LIUYANG, raw=signed,
                 dkim_verify="signed", dnsfunc=broken_dns).unverified
