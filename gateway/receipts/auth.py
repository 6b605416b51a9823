"""The authentication policy a reply must pass before it may confirm a receipt (DESIGN §4.2).

Fail-closed (issue 16). Two sources of evidence, both optional:

* ``Authentication-Results`` (RFC 8601) added by a **trusted** upstream — the project's
  ``auth.trusted_authserv_ids``. Anyone can write such a header into a mail; the upstream MTA
  strips headers carrying its own authserv-id and adds its own on top (RFC 8601 §5), so only the
  **topmost** header of a trusted authserv-id is read; headers of other ids and trusted headers
  further down are ignored entirely. That one header passes the mail when it shows
  ``dmarc=pass``, or ``dkim=pass`` whose ``header.d``/``header.i`` is aligned (relaxed: same
  organizational domain, RFC 7489 §3.1.1) with the From domain. It marks the mail **forged** when
  it shows ``dmarc=fail`` (or ``permerror``), or a failing DKIM result for the From domain with
  no aligned pass in the same header (a broken list or relay signature is no evidence against
  the author). A trusted header that cannot be parsed is **unverified**, never absent.
* Our own DKIM check with dkimpy (``escalation.dkim_verify = "signed"``): every
  ``DKIM-Signature`` is tried, not just the top one; one that verifies for a domain aligned with
  From passes the mail. A DNS failure (timeout, no resolver) is a temporary error: unverified,
  never forged. A signature of the From domain that fails, with none passing, marks it forged.

Anything that neither passes nor fails is **unverified**: kept, flagged, never counted, settled by
a person (``receipts set``). With neither source configured (:func:`from_line_only`) there is no
evidence to ask for: a reply is trusted by its From line alone, and ``check-config`` and
``serve`` say so loudly.

The verdict is plain data. Parsing uses the ``authres`` package (RFC 8601 grammar incl. comments
and quoted strings).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import authres  # type: ignore[import-untyped]

log = logging.getLogger(__name__)

FAILING = frozenset({"fail", "permerror"})
DnsFunc = Callable[..., bytes | None]
FROM_LINE_WARNING = ("WARNING: project {code}: neither [auth] trusted_authserv_ids nor "
                     "escalation.dkim_verify is configured: replies are trusted by their From "
                     "line alone (anyone can confirm a receipt for anyone)")

# Second-level labels under which registrations sit (a small public-suffix stand-in): the
# organizational domain of mail.example.com.cn is example.com.cn.
_SECOND_LEVEL = frozenset({"com", "net", "org", "gov", "edu", "ac", "co", "mil", "ne", "or",
                           "go", "gen", "biz", "info"})
_AUTHSERV = re.compile(r"^\s*(?:\([^)]*\)\s*)*([^\s;()]+)")
_SIG_DOMAIN = re.compile(rb"(?:^|;)\s*d\s*=\s*([^;\s]+)", re.I)


@dataclass(frozen=True)
class AuthVerdict:
    """Whether a mail passed, failed (forged) or could not be judged (unverified)."""

    forged: bool
    reasons: tuple[str, ...] = ()
    evidence: tuple[str, ...] = field(default_factory=tuple)
    unverified: bool = False

    @property
    def verified(self) -> bool:
        """Neither forged nor unverified: the reply may count."""
        return not self.forged and not self.unverified


PASS_FROM_LINE = AuthVerdict(forged=False, evidence=("from-line only (no authentication "
                                                     "configured)",))


def from_line_only(trusted: Sequence[str], dkim_verify: str) -> bool:
    """Whether a project has no authentication at all (replies trusted by From alone)."""
    return not [t for t in trusted if t.strip()] and dkim_verify == "off"


def from_line_warnings(projects: Iterable[Any]) -> list[str]:
    """One WARNING line per project whose replies are trusted by their From line alone."""
    return [FROM_LINE_WARNING.format(code=p.code) for p in projects
            if from_line_only(p.auth.trusted_authserv_ids, p.escalation.dkim_verify)]


def _domain_of(address: str | None) -> str:
    return (address or "").rpartition("@")[2].strip().lower().rstrip(".")


def org_domain(domain: str) -> str:
    """The organizational domain (RFC 7489 §3.2), approximated without the public suffix list."""
    labels = [label for label in domain.lower().strip(".").split(".") if label]
    if len(labels) <= 2:
        return ".".join(labels)
    keep = 3 if labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: both names share their organizational domain."""
    domain = domain.strip().lower().rpartition("@")[2].rstrip(".")
    return bool(domain and from_domain) and org_domain(domain) == org_domain(from_domain)


def _authserv_id(value: str) -> str:
    found = _AUTHSERV.match(value)
    return found.group(1).lower() if found else ""


def topmost_trusted(headers: Iterable[str], trusted: Sequence[str]
                    ) -> tuple[str | None, Any]:
    """The topmost header of a trusted authserv-id: ``(value, parsed)``; parsed None if broken.

    ``(None, None)`` when no header names a trusted id."""
    allowed = {t.strip().lower() for t in trusted if t.strip()}
    for value in headers:
        try:
            parsed = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:  # noqa: BLE001 - authres raises its own zoo
            if _authserv_id(value) in allowed:
                return value, None
            continue
        if str(parsed.authserv_id or "").lower() in allowed:
            return value, parsed
    return None, None


def trusted_results(headers: Iterable[str], trusted: Sequence[str]
                    ) -> list[tuple[str, str, dict[str, str]]]:
    """``(method, result, properties)`` of the topmost trusted header (empty: none, or broken)."""
    _value, parsed = topmost_trusted(headers, trusted)
    if parsed is None:
        return []
    out: list[tuple[str, str, dict[str, str]]] = []
    for result in parsed.results:
        props = {f"{p.type}.{p.name}".lower(): str(p.value) for p in result.properties}
        out.append((str(result.method).lower(), str(result.result).lower(), props))
    return out


def _about_from(props: dict[str, str], from_domain: str) -> bool:
    """Whether a DKIM result is about the From domain (a broken third-party signature, e.g. a
    list's or a relay's, is no evidence against the author)."""
    signer = props.get("header.d") or props.get("header.i") or ""
    return not signer or aligned(signer, from_domain)


def check_headers(headers: Iterable[str], *, trusted: Sequence[str],
                  from_addr: str | None) -> AuthVerdict:
    """The verdict of the topmost trusted Authentication-Results alone (see the docstring)."""
    headers = list(headers)
    value, parsed = topmost_trusted(headers, trusted)
    if value is None:
        return AuthVerdict(forged=False, unverified=True,
                           reasons=("no Authentication-Results of a trusted upstream",))
    if parsed is None:
        log.info("unparsable trusted Authentication-Results: %.80s", value)
        return AuthVerdict(forged=False, unverified=True,
                           reasons=("unparsable Authentication-Results of a trusted upstream",))
    results = trusted_results(headers, trusted)
    from_domain = _domain_of(from_addr)
    evidence = tuple(f"{m}={r}" for m, r, _ in results)
    # dmarc=pass speaks for the From domain; one naming another header.from is not about it
    dmarc_pass = any(m == "dmarc" and r == "pass"
                     and aligned(props.get("header.from", from_domain), from_domain)
                     for m, r, props in results)
    dkim_pass_aligned = any(
        m == "dkim" and r == "pass"
        and any(aligned(props.get(key, ""), from_domain) for key in ("header.d", "header.i"))
        for m, r, props in results)
    reasons: list[str] = []
    for method, result, props in results:
        if method == "dmarc" and result in FAILING:
            reasons.append(f"dmarc={result}")
        elif (method == "dkim" and result in FAILING and not dkim_pass_aligned
              and _about_from(props, from_domain)):
            reasons.append(f"dkim={result} ({props.get('header.d', '?')})")
    if reasons:
        return AuthVerdict(forged=True, reasons=tuple(reasons), evidence=evidence)
    if dmarc_pass or dkim_pass_aligned:
        return AuthVerdict(forged=False, evidence=evidence)
    return AuthVerdict(forged=False, unverified=True, evidence=evidence,
                       reasons=("no dmarc=pass and no aligned dkim=pass from the trusted "
                                "upstream",))


def _signature_domain(value: bytes) -> str:
    found = _SIG_DOMAIN.search(value)
    return found.group(1).decode("ascii", "replace").strip().lower() if found else ""


def check_dkim(raw: bytes, *, from_addr: str | None = None,
               dnsfunc: DnsFunc | None = None) -> AuthVerdict:
    """Own DKIM verification, every signature tried (RFC 6376 §6.1: a verifier may try each).

    A signature that verifies for a domain aligned with From (any domain when ``from_addr`` is
    not given) passes. Otherwise: a DNS failure is a temporary error (unverified, it may hide a
    pass); a signature of the From domain that fails (bad hash, bad signature, malformed, no key
    — RFC 6376 §6.3 PERMFAIL) with none passing is forged; anything else (no signature, only
    third-party signatures) is unverified."""
    import dkim

    if b"dkim-signature:" not in raw[:65536].lower():
        return AuthVerdict(forged=False, unverified=True, reasons=("no DKIM signature",))
    from dkim.dnsplug import get_txt

    lookup: Any = dnsfunc if dnsfunc is not None else get_txt
    temp: list[str] = []

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        try:
            found = lookup(name, timeout=timeout)
        except Exception as exc:  # resolvers raise anything; all of it is temporary
            temp.append(type(exc).__name__)
            raise dkim.DnsTimeoutError(str(exc)) from exc
        return None if found is None else bytes(found)

    try:
        checker = dkim.DKIM(raw)
        signatures = [value for name, value in checker.headers
                      if name.lower() == b"dkim-signature"]
    except Exception as exc:  # noqa: BLE001 - dkimpy raises for syntax trouble
        return AuthVerdict(forged=False, unverified=True, reasons=(f"dkim: {type(exc).__name__}",))
    from_domain = _domain_of(from_addr)
    failures: list[str] = []
    own_domain_failed = False
    for index, value in enumerate(signatures):
        domain = _signature_domain(value)
        before = len(temp)
        try:
            ok = bool(checker.verify(idx=index, dnsfunc=dns))
            why = "signature does not verify"
        except Exception as exc:  # noqa: BLE001 - ValidationError, KeyFormatError, ...
            ok, why = False, f"{type(exc).__name__}: {str(exc)[:80]}"
        if len(temp) > before:
            continue  # a temporary DNS error says nothing about the signature
        mine = from_addr is None or aligned(domain, from_domain)
        if ok and mine:
            return AuthVerdict(forged=False, evidence=(f"dkim=pass d={domain} (own check)",))
        if not ok:
            failures.append(f"dkim=fail d={domain or '?'} ({why}, own check)")
            own_domain_failed = own_domain_failed or mine
    if temp:
        return AuthVerdict(forged=False, unverified=True, reasons=(
            f"dkim=temperror (own check, DNS: {', '.join(dict.fromkeys(temp))})", *failures))
    if own_domain_failed:
        return AuthVerdict(forged=True, reasons=tuple(failures))
    return AuthVerdict(forged=False, unverified=True,
                       reasons=tuple(failures) or ("no DKIM signature aligned with From",))


def check(*, headers: Iterable[str], trusted: Sequence[str], from_addr: str | None,
          raw: bytes | None = None, dkim_verify: str = "off",
          dnsfunc: DnsFunc | None = None) -> AuthVerdict:
    """The whole policy: the topmost trusted header, then (when configured) our own DKIM."""
    if from_line_only(trusted, dkim_verify):
        return PASS_FROM_LINE
    if [t for t in trusted if t.strip()]:
        verdict = check_headers(headers, trusted=trusted, from_addr=from_addr)
    else:
        verdict = AuthVerdict(forged=False, unverified=True)
    if verdict.verified or dkim_verify == "off" or raw is None:
        return verdict
    own = check_dkim(raw, from_addr=from_addr, dnsfunc=dnsfunc)
    if own.verified:
        return AuthVerdict(forged=False, evidence=verdict.evidence + own.evidence)
    return AuthVerdict(forged=verdict.forged or own.forged, unverified=not (
        verdict.forged or own.forged), reasons=verdict.reasons + own.reasons,
        evidence=verdict.evidence + own.evidence)
