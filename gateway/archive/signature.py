"""The archive's signature: ``MANIFEST.sig``, an HMAC-SHA256 over ``MANIFEST.sha256``.

``MANIFEST.sha256`` proves each file is what the manifest lists — but whoever edits
``records.csv`` can recompute the manifest too. The signature binds the manifest to the gateway:
HMAC-SHA256, under a key derived from the gateway's secret key (``<data_dir>/secret_key`` or
``COMMGATE_SECRET_KEY``), of the canonical JSON of the manifest's SHA-256, the project and the
audit chain head at export (the anchor the archive carries, gateway/audit/anchor.py). Only a
holder of the secret can sign, and only a holder can check: ``commgate archive verify`` on the
gateway (or with its key). An Ed25519 signature that anyone could check would need a
cryptography library the gateway does not depend on; HMAC is what the standard library offers.

``MANIFEST.sig`` is not listed in the manifest (it is written after it); it is JSON::

    {"format": "commgate-manifest-signature/1", "alg": "HMAC-SHA256", "key_id": "…",
     "manifest_sha256": "…", "project": "demo",
     "audit": {"project_id": 1, "seq": 42, "hash": "…"}, "signature": "…"}
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from gateway.archive.zipstream import MANIFEST as MANIFEST_NAME
from gateway.audit.chain import canonical

SIGNATURE = "MANIFEST.sig"
FORMAT = "commgate-manifest-signature/1"
ALG = "HMAC-SHA256"
_CONTEXT = b"commgate archive-manifest v1"


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, _CONTEXT, hashlib.sha256).digest()


def key_id(secret: bytes) -> str:
    """Names the key without revealing it: which gateway signed, when a check fails."""
    return hashlib.sha256(_key(secret)).hexdigest()[:16]


def _mac(secret: bytes, body: dict[str, Any]) -> str:
    return hmac.new(_key(secret), canonical(body), hashlib.sha256).hexdigest()


def sign(secret: bytes, *, manifest_sha256: str, project: str, audit: dict[str, Any]) -> bytes:
    body = {"format": FORMAT, "alg": ALG, "key_id": key_id(secret),
            "manifest_sha256": manifest_sha256, "project": project, "audit": audit}
    return json.dumps({**body, "signature": _mac(secret, body)}, ensure_ascii=False,
                      indent=2, sort_keys=True).encode("utf-8")


def check(secret: bytes, data: bytes, *, manifest_sha256: str,
          audit: dict[str, Any] | None) -> list[str]:
    """Problems with ``MANIFEST.sig`` (``data``) for a manifest hashing to ``manifest_sha256``
    and the head in ``archive.json`` (``audit``); empty when the signature holds."""
    try:
        body = json.loads(data)
        signature = body.pop("signature")
    except (ValueError, KeyError, TypeError, AttributeError):
        return [f"{SIGNATURE}: not a commgate signature (unreadable)"]
    if body.get("format") != FORMAT or body.get("alg") != ALG:
        return [f"{SIGNATURE}: unknown format {body.get('format')!r} / {body.get('alg')!r}"]
    if body.get("key_id") != key_id(secret):
        return [f"{SIGNATURE}: signed with another key (key id {body.get('key_id')}, this "
                f"gateway's is {key_id(secret)}): check it with the exporting gateway's key"]
    if not isinstance(signature, str) or not hmac.compare_digest(signature,
                                                                 _mac(secret, body)):
        return [f"{SIGNATURE}: signature does not match (the signature file was edited)"]
    out = []
    if body.get("manifest_sha256") != manifest_sha256:
        out.append(f"{MANIFEST_NAME}: not the manifest that was signed (edited or recomputed "
                   f"after export)")
    if audit is not None and body.get("audit") != audit:
        out.append(f"archive.json: audit head {audit} differs from the signed one "
                   f"{body.get('audit')}")
    return out

