"""Machine-written mail, decided once per message: bounce, MDN and the automated-mail reason.

Combines :mod:`gateway.parse.bounce`, :mod:`gateway.parse.mdn` and
:mod:`gateway.parse.automated`. A bounce or MDN is always automated mail, so the gateway never
answers one (DESIGN §5, no mail loops).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.addresses import try_normalize
from gateway.parse.automated import automated_reason
from gateway.parse.body import Collected
from gateway.parse.bounce import heuristic_bounce, looks_like_bounce, parse_dsn
from gateway.parse.envelope import Head
from gateway.parse.headers import message_ids
from gateway.parse.mdn import original_message_id, parse_mdn
from gateway.parse.model import Bounce, Mdn


@dataclass(frozen=True, slots=True)
class Reports:
    auto_reason: str | None
    bounce: Bounce | None
    mdn: Mdn | None


def detect_reports(head: Head, found: Collected, text: str) -> Reports:
    """Classify one message as bounce / MDN / automated / human."""
    mdn = parse_mdn(found.reports)
    bounce = None if mdn else _bounce(head, found, text)
    if bounce is not None and bounce.original_message_id is None:
        bounce = Bounce(failed_recipients=bounce.failed_recipients, permanent=bounce.permanent,
                        original_message_id=_original_id(found) or _returned_id(text),
                        status=bounce.status, standard=bounce.standard)
    reason = automated_reason(head.headers, head.subject,
                              report=bounce is not None or mdn is not None)
    if bounce is not None and reason is not None and not reason.startswith(("Auto", "X-")):
        reason = "delivery status notification (bounce)"
    elif mdn is not None and reason is not None and not reason.startswith(("Auto", "X-")):
        reason = "message disposition notification (read receipt)"
    return Reports(auto_reason=reason, bounce=bounce, mdn=mdn)


_RETURNED_ID = re.compile(r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]{3,250}>)", re.I | re.M)


def _returned_id(text: str) -> str | None:
    """A ``Message-ID:`` line of the copy a prose bounce (qmail, Exchange) returns inline."""
    found = _RETURNED_ID.search(text[:200_000])
    return found.group(1) if found else None


def _original_id(found: Collected) -> str | None:
    """The returned original: a message/rfc822 part (RFC 3462) or text/rfc822-headers."""
    for inner in found.forwarded:
        ids = [v for k, v in inner.raw_items() if k.lower() == "message-id"]
        if ids and message_ids(str(ids[0])):
            return message_ids(str(ids[0]))[0]
    return original_message_id(found.reports)


def _bounce(head: Head, found: Collected, text: str) -> Bounce | None:
    dsn = parse_dsn(found.reports)
    if dsn is not None:
        failed, permanent, status = dsn
        if not failed:
            failed = _addresses(head.header("X-Failed-Recipients"))
        return Bounce(failed_recipients=failed, permanent=permanent,
                      original_message_id=None, status=status, standard=True)
    if not looks_like_bounce(head.from_addr, head.subject, head.return_path):
        return None
    exclude = {address for _, address in head.to}
    if head.from_addr:
        exclude.add(head.from_addr)
    return heuristic_bounce(text, exclude=exclude,
                            failed_header=head.header("X-Failed-Recipients"))


def _addresses(value: str | None) -> list[str]:

    out = [try_normalize(part.strip().strip("<>")) for part in (value or "").split(",")]
    return [a for a in dict.fromkeys(out) if a]
