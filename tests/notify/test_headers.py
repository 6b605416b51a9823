"""No value — subject, display name, address, notice field — can inject a header or a recipient."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import SMTP, default
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.config.settings import Settings, load_settings
from gateway.errors import UnsafeHeader
from gateway.notify.compose import compose
from gateway.notify.headers import _ENCODED_WORD, _UNSAFE, safe_address, safe_header_value

CONFIG = Path(__file__).resolve().parents[2] / "config" / "gateway.toml"
EXPECTED = {"From", "To", "Subject", "Message-ID", "X-Commgate-Project", "Content-Type",
            "Content-Transfer-Encoding", "MIME-Version", "Auto-Submitted",
            "X-Auto-Response-Suppress"}
hostile = st.lists(st.sampled_from(
    list("ab 中文:<>,;\"@=?\\") + ["\r", "\n", "\r\n", "\x00", "\x0b", "\x0c", "\x85",
                                  "\u2028", "Bcc: evil@x.example", "=?utf-8?q?a=0d=0a?="]),
    max_size=20).map("".join) | st.text(max_size=30)


@pytest.fixture(scope="module")
def gw_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("var")
    return load_settings(CONFIG, {"COMMGATE_DATA_DIR": str(data),
                                  "COMMGATE_SECRET_KEY": "test-secret-key-0123456789"})


@pytest.mark.parametrize("value", ["a\r\nBcc: evil@x.example", "a\nb", "a\rb", "a\x00b",
                                   "a\u2028b", "a\x85b", "a\x1bb"])
def test_control_characters_are_refused(value: str) -> None:
    with pytest.raises(UnsafeHeader):
        safe_header_value(value)
    with pytest.raises(UnsafeHeader):
        safe_address("huang@client.example.cn", value)


@pytest.mark.parametrize("address", ["a@b.example, evil@x.example", "a@b.example\r\n",
                                     '"a b"@c.example', "a@b.example>evil", "noatsign",
                                     "a@b@c.example"])
def test_only_single_bare_addresses_pass(address: str) -> None:
    with pytest.raises(UnsafeHeader):
        safe_address(address)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=hostile, name=hostile)
def test_hostile_subject_and_name_never_inject(gw_settings: Settings, subject: str,
                                              name: str) -> None:
    project = gw_settings.project("demo")
    try:
        msg = compose(settings=gw_settings, project=project, sender=("网关", project.address),
                      to=[(name, "huang@client.example.cn")], subject=subject, text="x",
                      html=None, automated=True)
    except UnsafeHeader:
        assert _UNSAFE.search(subject + name) or _ENCODED_WORD.search(subject + name)
        return
    parsed = message_from_bytes(msg.as_bytes(policy=SMTP), policy=default)
    assert set(parsed.keys()) == EXPECTED
    assert [a.addr_spec for a in parsed["To"].addresses] == ["huang@client.example.cn"]
    # TAB and SP are the same folding white space (RFC 5322 §3.2.2): a TAB may come back a SP
    assert parsed["Subject"].replace("\t", " ") == subject.strip().replace("\t", " ")
    # a blank name is filled from the project file (issue 21)
    assert parsed["To"].addresses[0].display_name.replace("\t", " ") == \
        (name.strip() or "黄经理").replace("\t", " ")
