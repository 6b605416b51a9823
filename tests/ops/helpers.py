"""HTTP helpers for the operations tests: GET over loopback, /healthz as JSON, /metrics parsed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from gateway.runtime.ops import OpsServer

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def get(url: str) -> tuple[int, bytes]:
    """GET over loopback; (status, body) also for 4xx/5xx answers."""
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read()


def health(ops: OpsServer) -> tuple[int, dict[str, Any]]:
    status, body = get(ops.url + "/healthz")
    return status, json.loads(body)


def scrape(ops: OpsServer) -> Samples:
    """Every sample of /metrics: {(name, sorted labels): value}."""
    status, body = get(ops.url + "/metrics")
    assert status == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str,
          **labels: str) -> float:
    """One sample; 0 when the series does not exist (yet)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
