"""Mail addresses: one canonical form for comparing people, and parsing of header address lists.

The canonical form is ``local@domain`` with the domain lower-cased and IDNA-encoded and the local
part lower-cased (every mail system our users meet treats local parts case-insensitively, even
though RFC 5321 does not require it). Plus-tags are kept here and removed by :func:`person_key`
only where we compare people, since ``proj-demo+r-…`` tags carry meaning for the gateway itself.
"""

from __future__ import annotations

import re

_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$")


def normalize_address(value: str) -> str:
    """Return the canonical form of a bare address, or raise ValueError if it is not one."""
    value = value.strip().strip("<>").strip()
    if value.count("@") != 1:
        raise ValueError(f"not a mail address: {value!r}")
    local, domain = value.rsplit("@", 1)
    if not local or not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") \
            or ".." in local:
        raise ValueError(f"not a mail address: {value!r}")
    domain = domain.strip().rstrip(".").lower()
    if not domain or "." not in domain or any(c in domain for c in " []%!:\\\"<>,;"):
        raise ValueError(f"not a mail address: {value!r}")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"not a mail address (bad domain): {value!r}") from None
    return f"{local.lower()}@{domain}"


def try_normalize(value: str) -> str | None:
    try:
        return normalize_address(value)
    except ValueError:
        return None


def person_key(address: str) -> str:
    """The key two addresses of one person share: canonical, with any ``+tag`` removed."""
    canonical = try_normalize(address) or address.strip().lower()
    local, _, domain = canonical.partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"
