"""The connector interface, which records go where, and the HTTP call every connector makes.

A connector turns one record payload (a JSON snapshot taken when the record qualified) into one
HTTP request. It raises :class:`~gateway.errors.ConnectorError` for anything short of a clear
success — connection refused, timeout, non-2xx status, an error code in the body — and the
outbox (:mod:`gateway.connectors.outbox`) retries later. Rules are pure functions of the record.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from gateway.config.connectors import ConnectorRule, ConnectorsConfig, SinkConfig
from gateway.config.people import person_name
from gateway.config.settings import ProjectConfig
from gateway.errors import ConnectorError
from gateway.records.localtime import local_iso
from gateway.store.models import Record

MAX_RESPONSE = 64 * 1024
USER_AGENT = "commgate-connector/1"


class Connector(Protocol):
    """One business-process endpoint."""

    name: str

    def deliver(self, payload: Mapping[str, Any], *, idempotency_key: str,
                now: datetime) -> None:
        """Send one record; return on success, raise ConnectorError otherwise."""


@dataclass(kw_only=True, slots=True)
class Endpoint:
    """What every HTTP connector is configured with; subclasses add :meth:`Connector.deliver`."""

    name: str
    url: str
    secret: str = field(repr=False)
    timeout: float


def rule_matches(rule: ConnectorRule, record: Record) -> bool:
    return ((not rule.groups or record.stakeholder_group in rule.groups)
            and (not rule.categories or record.category in rule.categories)
            and (not rule.formality or record.formality in rule.formality))


def matching_sinks(config: ConnectorsConfig, record: Record) -> list[SinkConfig]:
    """The sinks this record goes to: any of a sink's rules matches (no rules: nothing goes)."""
    return [s for s in config.sinks if any(rule_matches(r, record) for r in s.rules)]


def record_payload(project: ProjectConfig, record: Record) -> dict[str, Any]:
    """What is sent: the record as it stands when it qualifies (kept with the delivery row)."""
    return {
        "project": project.code, "project_name": project.name, "record_id": record.id,
        "subject": record.subject, "category": record.category,
        "stakeholder_group": record.stakeholder_group, "formality": record.formality,
        "urgency": record.urgency, "summary": record.summary, "conclusion": record.conclusion,
        "parties": [{"name": person_name(project, p.get("address", ""), p.get("name", "")),
                     "address": p.get("address", "")} for p in record.parties],
        "created_at": local_iso(record.created_at, project.zone),  # +08:00, as people read it
        "language": project.language,
    }


def post(url: str, body: bytes, headers: Mapping[str, str], *, timeout: float) -> bytes:
    """POST ``body``; the response body on 2xx, ConnectorError otherwise (stdlib urllib)."""
    if not url.startswith(("https://", "http://")):
        raise ConnectorError(f"not an http(s) URL: {url.split('?')[0]!r}")
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"User-Agent": USER_AGENT, **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read(MAX_RESPONSE))
    except urllib.error.HTTPError as exc:
        raise ConnectorError(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        # refused, DNS, TLS, timeout, a connection cut mid-answer
        reason = getattr(exc, "reason", exc)
        raise ConnectorError(f"cannot reach {_host(url)}: {reason}") from None


def _host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0]


def json_body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
