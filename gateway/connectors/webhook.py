"""A generic JSON webhook: the record as JSON, its HMAC-SHA256 signature and an idempotency key.

Headers: ``X-Commgate-Signature: sha256=<hex of HMAC-SHA256(secret, body)>`` (the GitHub
webhook convention, so receivers can reuse their verification code), ``Idempotency-Key`` (the
same for every retry of one delivery, so a receiver that saw a post whose answer we lost can
drop the repeat) and ``X-Commgate-Event: record``. Any 2xx is success.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.connectors.base import Endpoint, json_body, post

SIGNATURE_HEADER = "X-Commgate-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """For receivers (and tests): constant-time comparison."""
    return hmac.compare_digest(signature(secret, body), header)


class JsonWebhook(Endpoint):
    def deliver(self, payload: Mapping[str, Any], *, idempotency_key: str,
                now: datetime) -> None:
        body = json_body({"event": "record", "idempotency_key": idempotency_key,
                          "sent_at": _in_zone_of(now, payload.get("created_at")),
                          "record": dict(payload)})
        headers = {"Content-Type": "application/json; charset=utf-8",
                   IDEMPOTENCY_HEADER: idempotency_key, "X-Commgate-Event": "record"}
        if self.secret:
            headers[SIGNATURE_HEADER] = signature(self.secret, body)
        post(self.url, body, headers, timeout=self.timeout)


def _in_zone_of(now: datetime, stamp: Any) -> str:
    """``now`` with the offset of the record's own time (the project's zone, issue 21)."""
    try:
        zone = datetime.fromisoformat(str(stamp)).tzinfo
    except ValueError:
        zone = None
    return (now.astimezone(zone) if zone is not None else now).isoformat()
