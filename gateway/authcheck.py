"""The authentication policy a reply must pass before it may confirm a receipt (DESIGN §4.2).

Two sources of evidence, both optional:

* ``Authentication-Results`` (RFC 8601) added by a **trusted** upstream — the project's
  ``auth.trusted_authserv_ids``. Anyone can write such a header into a mail, so headers whose
  authserv-id is not listed are ignored entirely (RFC 8601 §5: a receiver must only believe
  results from its own border). A ``dmarc=fail`` or ``dkim=fail`` (``permerror`` too, RFC 8601
  §2.7.1) from a trusted upstream marks the mail as forged — unless DKIM also *passed* for the
  From domain in the same header (a mail signed twice where one signature broke in transit).
* Our own DKIM check with dkimpy (``escalation.dkim_verify = "signed"``): a signature that is
  present must verify. A mail without a signature is not judged by this check.

The verdict is plain data; the receipts stage keeps a forged reply, flags the message and leaves
the receipt unchanged. Parsing uses the ``authres`` package (RFC 8601 grammar incl. comments and
quoted strings); a header it cannot parse counts as absent, never as a pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import authres  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

FAILING = frozenset({"fail", "permerror"})
DnsFunc = Callable[..., bytes | None]


@dataclass(frozen=True)
class AuthVerdict:
    """Whether a mail failed the policy, and the evidence either way."""

    forged: bool
    reasons: tuple[str, ...] = ()
    evidence: tuple[str, ...] = field(default_factory=tuple)


def _domain_of(address: str | None) -> str:
    return (address or "").rpartition("@")[2].lower()


def trusted_results(headers: Iterable[str], trusted: Sequence[str]
                    ) -> list[tuple[str, str, dict[str, str]]]:
    """``(method, result, properties)`` from headers of trusted authserv-ids, in order."""
    allowed = {t.strip().lower() for t in trusted}
    out: list[tuple[str, str, dict[str, str]]] = []
    for value in headers:
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:  # noqa: BLE001 - authres raises its own zoo; unparsable = absent
            log.info("unparsable Authentication-Results ignored: %.80s", value)
            continue
        if str(parsed.authserv_id or "").lower() not in allowed:
            continue
        for result in parsed.results:
            props = {f"{p.type}.{p.name}".lower(): str(p.value) for p in result.properties}
            out.append((str(result.method).lower(), str(result.result).lower(), props))
    return out


def check_headers(headers: Iterable[str], *, trusted: Sequence[str],
                  from_addr: str | None) -> AuthVerdict:
    """The verdict of trusted Authentication-Results alone."""
    results = trusted_results(headers, trusted)
    if not results:
        return AuthVerdict(forged=False)
    from_domain = _domain_of(from_addr)
    dkim_pass_aligned = any(
        method == "dkim" and result == "pass"
        and props.get("header.d", "").lower() in ("", from_domain)
        for method, result, props in results)
    reasons: list[str] = []
    for method, result, props in results:
        if method == "dmarc" and result in FAILING:
            reasons.append(f"dmarc={result}")
        elif method == "dkim" and result in FAILING and not dkim_pass_aligned:
            reasons.append(f"dkim={result} ({props.get('header.d', '?')})")
    evidence = tuple(f"{m}={r}" for m, r, _ in results)
    return AuthVerdict(forged=bool(reasons), reasons=tuple(reasons), evidence=evidence)


def check_dkim(raw: bytes, *, dnsfunc: DnsFunc | None = None) -> AuthVerdict:
    """Own DKIM verification of every signature present (RFC 6376); none present: no verdict."""
    import dkim

    if b"dkim-signature:" not in raw[:65536].lower():
        return AuthVerdict(forged=False)
    try:
        kwargs = {"dnsfunc": dnsfunc} if dnsfunc is not None else {}
        ok = bool(dkim.verify(raw, **kwargs))
    except Exception as exc:  # noqa: BLE001 - dkimpy raises for DNS and syntax trouble
        return AuthVerdict(forged=True, reasons=(f"dkim: {type(exc).__name__}",))
    return AuthVerdict(forged=False, evidence=("dkim=pass (own check)",)) if ok else \
        AuthVerdict(forged=True, reasons=("dkim=fail (own check)",))


def check(*, headers: Iterable[str], trusted: Sequence[str], from_addr: str | None,
          raw: bytes | None = None, dkim_verify: str = "off",
          dnsfunc: DnsFunc | None = None) -> AuthVerdict:
    """The whole policy: trusted headers, then (when configured) our own DKIM check."""
    verdict = check_headers(headers, trusted=trusted, from_addr=from_addr)
    if verdict.forged or dkim_verify == "off" or raw is None:
        return verdict
    own = check_dkim(raw, dnsfunc=dnsfunc)
    return AuthVerdict(forged=own.forged, reasons=verdict.reasons + own.reasons,
                       evidence=verdict.evidence + own.evidence)
