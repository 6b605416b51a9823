"""Signed reply addresses: a receipt's own address, which only the gateway can mint."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from gateway.config.settings import Settings
from gateway.notify.tokens import make_reply_address, verify_reply_address

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=14)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


def test_a_reply_address_names_its_project_and_receipt(settings: Settings) -> None:
    address = make_reply_address(settings, "demo", 4711, expires=LATER)
    assert address.startswith("proj-demo+r-") and address.endswith("@gw.example.com")
    assert len(address.split("@")[0]) <= 64  # RFC 5321 §4.5.3.1.1
    token = verify_reply_address(settings, address, now=NOW)
    assert token is not None
    assert (token.project_code, token.receipt_id) == ("demo", 4711)
    assert LATER <= token.expires < LATER + timedelta(minutes=1)


def test_case_does_not_matter_because_mail_systems_change_it(settings: Settings) -> None:
    address = make_reply_address(settings, "demo", 1, expires=LATER)
    assert verify_reply_address(settings, address.upper(), now=NOW) is not None


def test_an_expired_address_is_refused(settings: Settings) -> None:
    address = make_reply_address(settings, "demo", 1, expires=NOW + timedelta(hours=1))
    assert verify_reply_address(settings, address, now=NOW + timedelta(hours=2)) is None


@pytest.mark.parametrize("tamper", [
    lambda a: a.replace("+r-1-", "+r-2-"),                     # another receipt
    lambda a: a.replace("proj-demo+", "proj-ops+"),            # another project
    lambda a: a[: a.index("@") - 1] + ("a" if a[a.index("@") - 1] != "a" else "b")
    + a[a.index("@"):],                                        # one MAC character
    lambda a: a.replace("@gw.example.com", "@gw.example.com."),  # trailing dot
    lambda a: a.replace("@gw.example.com", "@elsewhere.example"),
    lambda a: a.replace("proj-", "proj\u2010"),                 # a Unicode hyphen look-alike
])
def test_a_tampered_address_is_refused(settings: Settings,
                                      tamper: Callable[[str], str]) -> None:
    address = make_reply_address(settings, "demo", 1, expires=LATER)
    assert verify_reply_address(settings, address, now=NOW) is not None
    assert verify_reply_address(settings, tamper(address), now=NOW) is None


def test_another_gateway_secret_does_not_verify(settings: Settings,
                                               make_settings: Callable[..., Settings]) -> None:
    address = make_reply_address(settings, "demo", 1, expires=LATER)
    other = make_settings(COMMGATE_SECRET_KEY="another-secret-key-9876543210")
    assert verify_reply_address(other, address, now=NOW) is None


def test_pushing_the_expiry_forward_breaks_the_mac(settings: Settings) -> None:
    address = make_reply_address(settings, "demo", 1, expires=NOW + timedelta(hours=1))
    local, domain = address.split("@")
    parts = local.split("-")  # proj, demo+r, <rid>, <expiry>, <mac>
    parts[3] = "zzzzz"
    assert verify_reply_address(settings, "-".join(parts) + "@" + domain,
                                now=NOW + timedelta(hours=2)) is None
